"""Wire format (JSON 1.1) of scalable-target tagging, and Tags on RegisterScalableTarget."""

from __future__ import annotations

import json

from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

_ORIGINAL_REGISTER = ApplicationAutoScalingResponse.register_scalable_target


def register_scalable_target(self: ApplicationAutoScalingResponse) -> str:
    answer = _ORIGINAL_REGISTER(self)
    tags = self._get_param("Tags")
    if tags:
        self.applicationautoscaling_backend.tag_resource(json.loads(answer)["ScalableTargetARN"], tags)
    return answer


def tag_resource(self: ApplicationAutoScalingResponse) -> str:
    self.applicationautoscaling_backend.tag_resource(self._get_param("ResourceARN"), self._get_param("Tags"))
    return "{}"


def untag_resource(self: ApplicationAutoScalingResponse) -> str:
    self.applicationautoscaling_backend.untag_resource(
        self._get_param("ResourceARN"), self._get_param("TagKeys")
    )
    return "{}"


def list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
    tags = self.applicationautoscaling_backend.list_tags_for_resource(self._get_param("ResourceARN"))
    return json.dumps({"Tags": tags})


RESPONSE_METHODS = {
    "register_scalable_target": register_scalable_target,
    "tag_resource": tag_resource,
    "untag_resource": untag_resource,
    "list_tags_for_resource": list_tags_for_resource,
}
