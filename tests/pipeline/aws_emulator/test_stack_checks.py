"""Stack checks read properties from the APIs: a good resource passes, a weakened one fails."""

from __future__ import annotations

from pipeline.stack_checks import StackChecks, state_resources


def _run(emulator, state, name, expect=None):
    checks = StackChecks(lambda service: emulator.client(service), state, expect or {}).run()
    return next(c for c in checks if c.name == name)


def test_state_resources_walks_child_modules_and_skips_data_sources():
    state = {
        "values": {
            "root_module": {
                "resources": [
                    {"mode": "managed", "type": "aws_vpc", "values": {"id": "vpc-1"}},
                    {"mode": "data", "type": "aws_region", "values": {"name": "us-east-1"}},
                ],
                "child_modules": [
                    {"resources": [{"mode": "managed", "type": "aws_vpc", "values": {"id": "vpc-2"}}]}
                ],
            }
        }
    }
    assert state_resources(state) == {"aws_vpc": [{"id": "vpc-1"}, {"id": "vpc-2"}]}


def test_a_missing_resource_type_fails_its_check(emulator):
    check = _run(emulator, {}, "ecr repositories are immutable and scanned")
    assert not check.ok and "the stack has no aws_ecr_repository" in check.detail


def test_an_immutable_scanned_kms_encrypted_repository_passes(emulator):
    emulator.client("ecr").create_repository(
        repositoryName="gw",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS"},
    )
    assert _run(
        emulator, {"aws_ecr_repository": [{"name": "gw"}]}, "ecr repositories are immutable and scanned"
    ).ok


def test_a_mutable_repository_fails(emulator):
    emulator.client("ecr").create_repository(
        repositoryName="gw", imageScanningConfiguration={"scanOnPush": True}
    )
    check = _run(
        emulator, {"aws_ecr_repository": [{"name": "gw"}]}, "ecr repositories are immutable and scanned"
    )
    assert not check.ok and "tags are MUTABLE" in check.detail


def _waf(emulator, default_action):
    return emulator.client("wafv2").create_web_acl(
        Name="gw",
        Scope="REGIONAL",
        DefaultAction=default_action,
        VisibilityConfig={
            "SampledRequestsEnabled": True,
            "CloudWatchMetricsEnabled": True,
            "MetricName": "gw",
        },
        Rules=[],
    )["Summary"]


def test_a_web_acl_allowing_by_default_fails(emulator):
    acl = _waf(emulator, {"Allow": {}})
    state = {"aws_wafv2_web_acl": [{"name": "gw", "scope": "REGIONAL", "id": acl["Id"]}]}
    check = _run(emulator, state, "waf web acl blocks by default and has rules")
    assert not check.ok and "expected Block" in check.detail and "no rules" in check.detail


def _task(emulator, **container):
    return emulator.client("ecs").register_task_definition(
        family="gw",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "x", **container}],
    )["taskDefinition"]["taskDefinitionArn"]


def test_a_plain_password_in_the_environment_fails(emulator):
    arn = _task(emulator, environment=[{"name": "DATABASE_PASSWORD", "value": "hunter2"}])
    check = _run(
        emulator,
        {"aws_ecs_task_definition": [{"arn": arn}]},
        "task definitions keep secrets out of plain environment",
    )
    assert not check.ok and "DATABASE_PASSWORD looks secret" in check.detail


def test_a_limit_named_for_tokens_is_a_setting_not_a_secret(emulator):
    """The same rule as the policy gate's: `TOKENS` as a name part is not `TOKEN`."""
    arn = _task(
        emulator,
        environment=[{"name": "GATEWAY_MAX_TOKENS", "value": "10000"}],
        secrets=[{"name": "DATABASE_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db"}],
    )
    check = _run(
        emulator,
        {"aws_ecs_task_definition": [{"arn": arn}]},
        "task definitions keep secrets out of plain environment",
    )
    assert check.ok, check.detail


def test_secrets_from_arns_and_plain_settings_pass(emulator):
    arn = _task(
        emulator,
        environment=[{"name": "DATABASE_HOST", "value": "db.internal"}],
        secrets=[{"name": "DATABASE_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db"}],
    )
    state = {"aws_ecs_task_definition": [{"arn": arn}]}
    assert _run(emulator, state, "task definitions keep secrets out of plain environment").ok


def test_a_container_running_as_root_with_a_writable_filesystem_fails(emulator):
    arn = _task(emulator, user="0")
    check = _run(emulator, {"aws_ecs_task_definition": [{"arn": arn}]}, "task definitions are hardened")
    assert not check.ok and "runs as root" in check.detail and "writable" in check.detail


def test_a_read_only_non_root_fargate_task_passes(emulator):
    arn = _task(emulator, user="1000:1000", readonlyRootFilesystem=True)
    assert _run(emulator, {"aws_ecs_task_definition": [{"arn": arn}]}, "task definitions are hardened").ok
