"""Typed ElastiCache errors moto 5.2.5 does not define."""

from __future__ import annotations

from moto.elasticache.exceptions import ElastiCacheException


class CacheSubnetGroupInUse(ElastiCacheException):
    code = "CacheSubnetGroupInUse"

    def __init__(self, name: str, users: list[str]) -> None:
        super().__init__(f"Cache subnet group {name} is currently in use by: {', '.join(sorted(users))}.")
