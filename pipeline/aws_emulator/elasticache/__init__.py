"""ElastiCache gaps closed for the integration run: member clusters, deletions, subnet groups, user groups."""

from __future__ import annotations

from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse

from . import users
from .models import BACKEND_METHODS as _GROUP_METHODS
from .responses import RESPONSE_METHODS as _GROUP_RESPONSES

BACKEND_METHODS = {**_GROUP_METHODS, **users.BACKEND_METHODS}
RESPONSE_METHODS = {**_GROUP_RESPONSES, **users.RESPONSE_METHODS}


def install() -> None:
    """Put the methods on moto's ElastiCache backend and responses (idempotent)."""
    for name, method in BACKEND_METHODS.items():
        setattr(ElastiCacheBackend, name, method)
    for name, method in RESPONSE_METHODS.items():
        setattr(ElastiCacheResponse, name, method)


def installed() -> bool:
    return all(getattr(ElastiCacheBackend, n, None) is m for n, m in BACKEND_METHODS.items()) and all(
        getattr(ElastiCacheResponse, n, None) is m for n, m in RESPONSE_METHODS.items()
    )
