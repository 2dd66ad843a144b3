"""ElastiCache user groups (RBAC), which moto 5.2.5 lacks: what IAM authentication for Valkey needs.

moto models users but not user groups; the cache's replication group takes a
user group (modules/cache.py), so the integration run needs CreateUserGroup,
DescribeUserGroups, ModifyUserGroup and DeleteUserGroup. AWS's rules that
matter to the stack are kept: every user named exists, one of them is named
`default`, ids are unique, and a group still attached to a replication group
cannot be deleted. Groups become `active` at once (AWS takes a minute).
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.elasticache.exceptions import UserNotFound
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse
from moto.utilities.utils import get_partition

from .exceptions import DefaultUserRequired, InvalidUserGroupState, UserGroupAlreadyExists, UserGroupNotFound


def _groups(backend: ElastiCacheBackend) -> dict[str, dict[str, Any]]:
    """The backend's user groups (created on first use; moto's reset makes a new backend)."""
    if not hasattr(backend, "user_groups"):
        backend.user_groups = {}
    return backend.user_groups


def _check_users(backend: ElastiCacheBackend, user_ids: list[str]) -> None:
    for user_id in user_ids:
        if user_id not in backend.users:
            raise UserNotFound(user_id)
    if "default" not in {backend.users[u].name for u in user_ids}:
        raise DefaultUserRequired()


def _attached(backend: ElastiCacheBackend, group_id: str) -> list[str]:
    return [
        rg_id for rg_id, rg in backend.replication_groups.items() if group_id in (rg.user_group_ids or [])
    ]


def _view(backend: ElastiCacheBackend, group: dict[str, Any]) -> dict[str, Any]:
    return {**group, "ReplicationGroups": _attached(backend, group["UserGroupId"]), "PendingChanges": {}}


def create_user_group(
    self: ElastiCacheBackend, user_group_id: str, engine: str, user_ids: list[str], tags: list | None
) -> dict[str, Any]:
    groups = _groups(self)
    if user_group_id in groups:
        raise UserGroupAlreadyExists(user_group_id)
    _check_users(self, user_ids)
    partition, region = get_partition(self.region_name), self.region_name
    arn = f"arn:{partition}:elasticache:{region}:{self.account_id}:usergroup:{user_group_id}"
    groups[user_group_id] = {
        "UserGroupId": user_group_id,
        "Status": "active",
        "Engine": engine.lower(),
        "UserIds": list(user_ids),
        "MinimumEngineVersion": "6.0",
        "ARN": arn,
    }
    for user_id in user_ids:
        self.users[user_id].user_group_ids.append(user_group_id)
    if tags:
        self.tagging_service.tag_resource(arn, tags)
    return _view(self, groups[user_group_id])


def describe_user_groups(self: ElastiCacheBackend, user_group_id: str | None) -> list[dict[str, Any]]:
    groups = _groups(self)
    if user_group_id:
        if user_group_id not in groups:
            raise UserGroupNotFound(user_group_id)
        return [_view(self, groups[user_group_id])]
    return [_view(self, g) for g in groups.values()]


def modify_user_group(
    self: ElastiCacheBackend, user_group_id: str, to_add: list[str], to_remove: list[str]
) -> dict[str, Any]:
    groups = _groups(self)
    if user_group_id not in groups:
        raise UserGroupNotFound(user_group_id)
    group = groups[user_group_id]
    wanted = [u for u in group["UserIds"] if u not in to_remove] + [
        u for u in to_add if u not in group["UserIds"]
    ]
    _check_users(self, wanted)
    for user_id in to_remove:
        if user_id in self.users and user_group_id in self.users[user_id].user_group_ids:
            self.users[user_id].user_group_ids.remove(user_group_id)
    for user_id in to_add:
        self.users[user_id].user_group_ids.append(user_group_id)
    group["UserIds"] = wanted
    return _view(self, group)


def delete_user_group(self: ElastiCacheBackend, user_group_id: str) -> dict[str, Any]:
    """Gone at once (AWS answers `deleting` and removes it a little later)."""
    groups = _groups(self)
    if user_group_id not in groups:
        raise UserGroupNotFound(user_group_id)
    if _attached(self, user_group_id):
        raise InvalidUserGroupState(user_group_id, _attached(self, user_group_id))
    group = groups.pop(user_group_id)
    for user_id in group["UserIds"]:
        if user_id in self.users and user_group_id in self.users[user_id].user_group_ids:
            self.users[user_id].user_group_ids.remove(user_group_id)
    self.tagging_service.delete_all_tags_for_resource(group["ARN"])
    return {**_view(self, group), "Status": "deleting"}


_LIST_TAGS = ElastiCacheBackend.list_tags_for_resource


def list_tags_for_resource(self: ElastiCacheBackend, arn: str) -> dict[str, list[dict[str, str]]]:
    """moto's, plus user group ARNs (which its ARN check does not know)."""
    if ":usergroup:" in arn:
        return self.tagging_service.list_tags_for_resource(arn)
    return _LIST_TAGS(self, arn)


# ------------------------------------------------------------------ wire format (query protocol)
def _create_user_group(self: ElastiCacheResponse) -> ActionResult:
    params = self._get_params()
    return ActionResult(
        self.elasticache_backend.create_user_group(
            user_group_id=params.get("UserGroupId"),
            engine=params.get("Engine", ""),
            user_ids=params.get("UserIds", []),
            tags=params.get("Tags"),
        )
    )


def _describe_user_groups(self: ElastiCacheResponse) -> ActionResult:
    groups = self.elasticache_backend.describe_user_groups(self._get_param("UserGroupId"))
    return ActionResult({"UserGroups": groups})


def _modify_user_group(self: ElastiCacheResponse) -> ActionResult:
    params = self._get_params()
    return ActionResult(
        self.elasticache_backend.modify_user_group(
            user_group_id=params.get("UserGroupId"),
            to_add=params.get("UserIdsToAdd", []),
            to_remove=params.get("UserIdsToRemove", []),
        )
    )


def _delete_user_group(self: ElastiCacheResponse) -> ActionResult:
    return ActionResult(self.elasticache_backend.delete_user_group(self._get_param("UserGroupId")))


BACKEND_METHODS = {
    "create_user_group": create_user_group,
    "describe_user_groups": describe_user_groups,
    "modify_user_group": modify_user_group,
    "delete_user_group": delete_user_group,
    "list_tags_for_resource": list_tags_for_resource,
}
RESPONSE_METHODS = {
    "create_user_group": _create_user_group,
    "describe_user_groups": _describe_user_groups,
    "modify_user_group": _modify_user_group,
    "delete_user_group": _delete_user_group,
}
