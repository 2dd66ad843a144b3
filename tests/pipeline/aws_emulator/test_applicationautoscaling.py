"""Tags on Application Auto Scaling targets, added to moto (the provider lists them after every read)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def _target(emulator, **extra):
    ecs = emulator.client("ecs")
    ecs.create_cluster(clusterName="gw")
    ecs.register_task_definition(
        family="gw", containerDefinitions=[{"name": "app", "image": "x", "memory": 512}]
    )
    ecs.create_service(cluster="gw", serviceName="gateway", taskDefinition="gw", desiredCount=1)
    scaling = emulator.client("application-autoscaling")
    return scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/gw/gateway",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=3,
        **extra,
    )["ScalableTargetARN"]


def test_tags_given_at_registration_are_listed(emulator):
    arn = _target(emulator, Tags={"team": "platform"})
    tags = emulator.client("application-autoscaling").list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert tags == {"team": "platform"}


def test_tags_can_be_added_and_removed(emulator):
    scaling = emulator.client("application-autoscaling")
    arn = _target(emulator)
    scaling.tag_resource(ResourceARN=arn, Tags={"env": "dev", "team": "platform"})
    scaling.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"env": "dev"}


def test_tags_of_an_unknown_target_are_not_found(emulator):
    arn = "arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/nope"
    with pytest.raises(ClientError) as error:
        emulator.client("application-autoscaling").list_tags_for_resource(ResourceARN=arn)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
