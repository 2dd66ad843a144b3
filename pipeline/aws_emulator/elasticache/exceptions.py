"""Typed ElastiCache errors moto 5.2.5 does not define."""

from __future__ import annotations

from moto.elasticache.exceptions import ElastiCacheException


class CacheSubnetGroupInUse(ElastiCacheException):
    code = "CacheSubnetGroupInUse"

    def __init__(self, name: str, users: list[str]) -> None:
        super().__init__(f"Cache subnet group {name} is currently in use by: {', '.join(sorted(users))}.")


class UserGroupNotFound(ElastiCacheException):
    code = "UserGroupNotFound"

    def __init__(self, user_group_id: str) -> None:
        super().__init__(f"User group {user_group_id} not found.")


class UserGroupAlreadyExists(ElastiCacheException):
    code = "UserGroupAlreadyExists"

    def __init__(self, user_group_id: str) -> None:
        super().__init__(f"User group {user_group_id} already exists.")


class DefaultUserRequired(ElastiCacheException):
    code = "DefaultUserRequired"

    def __init__(self) -> None:
        super().__init__("A user group must contain a user named 'default'.")


class InvalidUserGroupState(ElastiCacheException):
    code = "InvalidUserGroupState"

    def __init__(self, user_group_id: str, replication_groups: list[str]) -> None:
        super().__init__(f"User group {user_group_id} is in use by: {', '.join(sorted(replication_groups))}.")
