"""What must be true of the deployed gateway, asked of the AWS APIs (not of Terraform's state).

Terraform's state only says which resources to look at (ids, ARNs); every
property is read back through boto3, so a resource the provider believes it
configured but the API does not report fails here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# Environment names and values that look like credentials belong in `secrets`, never in plain text:
# the same rule as the policy gate's CKV_LLMGW_3.
from policies.checks.llmgw_common import secret_looking_variable

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def state_resources(state_json: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Managed resources of `terraform show -json` (state), by type, with their values."""
    found: dict[str, list[dict[str, Any]]] = {}

    def walk(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    for resource in walk(state_json.get("values", {}).get("root_module", {})):
        if resource.get("mode") == "managed":
            found.setdefault(resource["type"], []).append(resource["values"])
    return found


class StackChecks:
    """One check per property that matters; each returns a Check, none raises on a failed property."""

    def __init__(self, client: ClientFactory, state: dict[str, list[dict[str, Any]]], expect: dict[str, Any]):
        self.client = client
        self.state = state
        self.expect = expect

    def _each(self, resource_type: str) -> list[dict[str, Any]]:
        resources = self.state.get(resource_type, [])
        if not resources:
            raise LookupError(f"the stack has no {resource_type}")
        return resources

    def run(self) -> list[Check]:
        results = []
        for name in sorted(n for n in dir(self) if n.startswith("check_")):
            label = name.removeprefix("check_").replace("_", " ")
            try:
                problems = list(getattr(self, name)())
            except Exception as error:  # a failed API call is a failed check, reported as such
                problems = [f"{type(error).__name__}: {error}"]
            results.append(Check(label, not problems, "; ".join(problems) or "ok"))
        return results

    # ---------------------------------------------------------------- edge
    def check_waf_web_acl_blocks_by_default_and_has_rules(self) -> Iterator[str]:
        waf = self.client("wafv2")
        for acl in self._each("aws_wafv2_web_acl"):
            got = waf.get_web_acl(Name=acl["name"], Scope=acl["scope"], Id=acl["id"])["WebACL"]
            if "Block" not in got["DefaultAction"]:
                yield f"{acl['name']}: default action {list(got['DefaultAction'])}, expected Block"
            if not got.get("Rules"):
                yield f"{acl['name']}: no rules"

    def check_waf_web_acl_is_associated_with_the_load_balancer(self) -> Iterator[str]:
        waf = self.client("wafv2")
        balancers = {lb["arn"] for lb in self._each("aws_lb")}
        associated = set()
        for association in self._each("aws_wafv2_web_acl_association"):
            got = waf.get_web_acl_for_resource(ResourceArn=association["resource_arn"]).get("WebACL")
            if not got or got["ARN"] != association["web_acl_arn"]:
                yield f"{association['resource_arn']} is not protected by {association['web_acl_arn']}"
            associated.add(association["resource_arn"])
        for arn in balancers - associated:
            yield f"load balancer {arn} has no web ACL"

    # ---------------------------------------------------------------- compute
    def check_task_definitions_keep_secrets_out_of_plain_environment(self) -> Iterator[str]:
        ecs = self.client("ecs")
        injected = 0
        for family in self._each("aws_ecs_task_definition"):
            task = ecs.describe_task_definition(taskDefinition=family["arn"])["taskDefinition"]
            for container in task["containerDefinitions"]:
                where = f"{task['family']}/{container['name']}"
                for secret in container.get("secrets", []):
                    if not secret["valueFrom"].startswith("arn:"):
                        yield f"{where}: secret {secret['name']} is not taken from an ARN"
                for variable in container.get("environment", []):
                    if secret_looking_variable(variable["name"], variable.get("value", "")):
                        yield f"{where}: {variable['name']} looks secret but is plain environment"
            injected += sum(len(c.get("secrets", [])) for c in task["containerDefinitions"])
        if not injected:
            yield "no task definition takes any secret through `secrets`"

    def check_task_definitions_are_hardened(self) -> Iterator[str]:
        ecs = self.client("ecs")
        for family in self._each("aws_ecs_task_definition"):
            task = ecs.describe_task_definition(taskDefinition=family["arn"])["taskDefinition"]
            if task.get("networkMode") != "awsvpc":
                yield f"{task['family']}: network mode {task.get('networkMode')}, expected awsvpc"
            if "FARGATE" not in task.get("requiresCompatibilities", []):
                yield f"{task['family']}: not a Fargate task"
            for container in task["containerDefinitions"]:
                where = f"{task['family']}/{container['name']}"
                if container.get("readonlyRootFilesystem") is not True:
                    yield f"{where}: root filesystem is writable"
                user = str(container.get("user", ""))
                if not user or user.split(":")[0] in ("0", "root"):
                    yield f"{where}: runs as root (user {user!r})"
                if container.get("privileged"):
                    yield f"{where}: privileged"

    def check_services_have_no_public_ip(self) -> Iterator[str]:
        ecs = self.client("ecs")
        for service in self._each("aws_ecs_service"):
            got = ecs.describe_services(cluster=service["cluster"], services=[service["name"]])["services"][0]
            network = got.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
            if network.get("assignPublicIp") != "DISABLED":
                yield f"{service['name']}: assignPublicIp={network.get('assignPublicIp')}"
            if got.get("launchType") not in ("FARGATE", None) and not got.get("capacityProviderStrategy"):
                yield f"{service['name']}: launch type {got.get('launchType')}"

    def check_ecr_repositories_are_immutable_and_scanned(self) -> Iterator[str]:
        ecr = self.client("ecr")
        for repository in self._each("aws_ecr_repository"):
            got = ecr.describe_repositories(repositoryNames=[repository["name"]])["repositories"][0]
            if got["imageTagMutability"] != "IMMUTABLE":
                yield f"{repository['name']}: tags are {got['imageTagMutability']}"
            if not got["imageScanningConfiguration"]["scanOnPush"]:
                yield f"{repository['name']}: no scan on push"
            if got.get("encryptionConfiguration", {}).get("encryptionType") != "KMS":
                yield f"{repository['name']}: not encrypted with KMS"

    # ---------------------------------------------------------------- data
    def check_aurora_is_encrypted_with_a_kms_key_and_scales_in_range(self) -> Iterator[str]:
        rds = self.client("rds")
        for cluster in self._each("aws_rds_cluster"):
            got = rds.describe_db_clusters(DBClusterIdentifier=cluster["cluster_identifier"])["DBClusters"][0]
            if not got.get("StorageEncrypted"):
                yield f"{cluster['cluster_identifier']}: storage not encrypted"
            if not got.get("KmsKeyId"):
                yield f"{cluster['cluster_identifier']}: no KMS key"
            scaling = got.get("ServerlessV2ScalingConfiguration", {})
            wanted = (self.expect["min_acu"], self.expect["max_acu"])
            if (scaling.get("MinCapacity"), scaling.get("MaxCapacity")) != wanted:
                yield f"{cluster['cluster_identifier']}: serverless v2 range {scaling}, expected {wanted}"
            if cluster.get("manage_master_user_password") and not got.get("MasterUserSecret"):
                yield f"{cluster['cluster_identifier']}: no RDS-managed master secret"

    def check_cache_encrypts_in_transit_and_at_rest_with_auth(self) -> Iterator[str]:
        cache = self.client("elasticache")
        for group in self._each("aws_elasticache_replication_group"):
            got = cache.describe_replication_groups(ReplicationGroupId=group["id"])["ReplicationGroups"][0]
            for flag in ("TransitEncryptionEnabled", "AtRestEncryptionEnabled"):
                if not got.get(flag):
                    yield f"{group['id']}: {flag} is {got.get(flag)}"
            # Clients authenticate: an AUTH token, or RBAC users (the stack's: IAM sign-in, modules/cache.py).
            if not (got.get("AuthTokenEnabled") or got.get("UserGroupIds")):
                yield f"{group['id']}: neither an AUTH token nor a user group"
            if not got.get("KmsKeyId"):
                yield f"{group['id']}: at-rest encryption without a customer KMS key"
            for member in got["MemberClusters"]:
                status = cache.describe_cache_clusters(CacheClusterId=member)["CacheClusters"][0][
                    "CacheClusterStatus"
                ]
                if status != "available":
                    yield f"{group['id']}: member {member} is {status}"

    def check_secrets_are_encrypted_with_a_kms_key(self) -> Iterator[str]:
        secrets = self.client("secretsmanager")
        for secret in self._each("aws_secretsmanager_secret"):
            if not secrets.describe_secret(SecretId=secret["arn"]).get("KmsKeyId"):
                yield f"{secret['name']}: default (AWS-managed) encryption"

    # ---------------------------------------------------------------- operations
    def check_log_groups_have_retention_and_kms(self) -> Iterator[str]:
        logs = self.client("logs")
        retention = self.expect["log_retention_days"]
        matching = 0
        for group in self._each("aws_cloudwatch_log_group"):
            found = [
                g
                for g in logs.describe_log_groups(logGroupNamePrefix=group["name"])["logGroups"]
                if g["logGroupName"] == group["name"]
            ]
            if not found:
                yield f"{group['name']}: missing"
                continue
            got = found[0]
            if not got.get("retentionInDays"):
                yield f"{group['name']}: kept forever"
            matching += got.get("retentionInDays") == retention
            if not got.get("kmsKeyId"):
                yield f"{group['name']}: not encrypted with a KMS key"
        if not matching:
            yield f"no log group has the configured retention of {retention} days"

    def check_guardrail_matches_policies_guardrail_yaml(self) -> Iterator[str]:
        bedrock = self.client("bedrock")
        definition = self.expect["guardrail"]
        for guardrail in self._each("aws_bedrock_guardrail"):
            got = bedrock.get_guardrail(guardrailIdentifier=guardrail["guardrail_id"])
            filters = {
                (f["type"], f["inputStrength"], f["outputStrength"]) for f in got["contentPolicy"]["filters"]
            }
            wanted = {(f.type, f.input_strength, f.output_strength) for f in definition.content_filters}
            if filters != wanted:
                yield f"content filters {sorted(filters)} != {sorted(wanted)}"
            pii = {
                (p["type"], p["action"])
                for p in got.get("sensitiveInformationPolicy", {}).get("piiEntities", [])
            }
            if pii != {(p.type, p.action) for p in definition.pii_entities}:
                yield f"PII entities {sorted(pii)} differ from the definition"
            words = {w["type"] for w in got.get("wordPolicy", {}).get("managedWordLists", [])}
            if words != set(definition.managed_word_lists):
                yield f"managed word lists {sorted(words)} differ from the definition"
            if got["blockedInputMessaging"] != definition.blocked_input_messaging:
                yield "blocked input message differs from the definition"
            if not got.get("kmsKeyArn"):
                yield "guardrail not encrypted with a customer KMS key"
        for version in self._each("aws_bedrock_guardrail_version"):
            got = bedrock.get_guardrail(
                guardrailIdentifier=version["guardrail_arn"], guardrailVersion=version["version"]
            )
            if got["status"] != "READY":
                yield f"version {version['version']} is {got['status']}"
