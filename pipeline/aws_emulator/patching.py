"""This project's methods put on moto's classes, and the check that they are there.

Each extension module declares PATCHES: the moto classes it changes, each with the
attributes (methods, properties) it sets on them. Installing and checking are written
here once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Patches = tuple[tuple[type, Mapping[str, Any]], ...]


def put(patches: Patches) -> None:
    """Set every attribute on its class (idempotent: safe before every server start)."""
    for owner, attributes in patches:
        for name, attribute in attributes.items():
            setattr(owner, name, attribute)


def are_put(patches: Patches) -> bool:
    return all(
        getattr(owner, name, None) is attribute
        for owner, attributes in patches
        for name, attribute in attributes.items()
    )


def after(original: Callable[..., Any], fix: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """A method that runs moto's `original`, then `fix(self, its result)`: what moto forgets, added back."""

    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        return fix(self, original(self, *args, **kwargs))

    return patched
