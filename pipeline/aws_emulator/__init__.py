"""A local AWS for the integration run: moto 5.2.5 plus the operations our stack needs that it lacks.

Layout follows moto's own: per service, `models` (behaviour, no HTTP),
`responses` (wire format) and `exceptions` (typed AWS errors), installed into
moto's classes by `extensions.install()` (each module declares its PATCHES, which
`patching` sets and checks); `server` runs it on 127.0.0.1.
"""

from .server import EmulatorServer, running

__all__ = ["EmulatorServer", "running"]
