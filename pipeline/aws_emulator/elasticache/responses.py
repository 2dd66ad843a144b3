"""Wire format (query protocol) of the ElastiCache operations moto 5.2.5 lacks."""

from __future__ import annotations

from moto.core.responses import ActionResult, EmptyResult
from moto.elasticache.responses import ElastiCacheResponse


def delete_cache_subnet_group(self: ElastiCacheResponse) -> ActionResult:
    self.elasticache_backend.delete_cache_subnet_group(self._get_param("CacheSubnetGroupName"))
    return EmptyResult()


RESPONSE_METHODS = {"delete_cache_subnet_group": delete_cache_subnet_group}
