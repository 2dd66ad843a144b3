"""One construct per AWS concern, composed by modules/stack.py.

`cdk` names the CDK for Terraform package in ONE place, imported lazily so
that loading the configuration (modules.config) does not start jsii/node.
CDKTF upstream is archived; switching to the `cdktn` fork means changing
CDK_PACKAGE (and the provider bindings' package) only.
"""

import importlib
from types import ModuleType

CDK_PACKAGE = "cdktf"


def __getattr__(name: str) -> ModuleType:
    if name == "cdk":
        return importlib.import_module(CDK_PACKAGE)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
