"""Tags on scalable targets, which moto 5.2.5 does not keep.

The provider lists a target's tags after every create and read
(`aws_appautoscaling_target` is taggable); moto answers HTTP 500 there.
"""

from __future__ import annotations

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
from moto.utilities.tagging_service import TaggingService

from .exceptions import ResourceNotFoundException


def _tagger(self: ApplicationAutoscalingBackend) -> TaggingService:
    # Created on first use: moto's reset() rebuilds the backend's __dict__, taking the tags with it.
    if "_tags" not in self.__dict__:
        self.__dict__["_tags"] = TaggingService()
    return self.__dict__["_tags"]


def _known(self: ApplicationAutoscalingBackend, arn: str) -> None:
    arns = {target.arn for targets in self.targets.values() for target in targets.values()}
    if arn not in arns:
        raise ResourceNotFoundException(arn)


def tag_resource(self: ApplicationAutoscalingBackend, resource_arn: str, tags: dict[str, str]) -> None:
    _known(self, resource_arn)
    _tagger(self).tag_resource(resource_arn, [{"Key": k, "Value": v} for k, v in tags.items()])


def untag_resource(self: ApplicationAutoscalingBackend, resource_arn: str, tag_keys: list[str]) -> None:
    _known(self, resource_arn)
    _tagger(self).untag_resource_using_names(resource_arn, tag_keys)


def list_tags_for_resource(self: ApplicationAutoscalingBackend, resource_arn: str) -> dict[str, str]:
    _known(self, resource_arn)
    return _tagger(self).get_tag_dict_for_resource(resource_arn)


BACKEND_METHODS = {
    "tag_resource": tag_resource,
    "untag_resource": untag_resource,
    "list_tags_for_resource": list_tags_for_resource,
}
