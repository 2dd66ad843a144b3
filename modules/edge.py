"""Edge: the internet-facing ALB with its security group, its access-log bucket, and the WAF in front of it.

The WAF blocks by default. Rule order matters: the per-IP rate limit and the
managed rule groups run BEFORE the allow-list rule, so an allowed client is
still rate limited and still screened (an ALLOW terminates evaluation).
"""

from __future__ import annotations

import dataclasses

from cdktf_cdktf_provider_aws.data_aws_elb_service_account import DataAwsElbServiceAccount
from cdktf_cdktf_provider_aws.lb import Lb, LbAccessLogs
from cdktf_cdktf_provider_aws.lb_listener import (
    LbListener,
    LbListenerDefaultAction,
    LbListenerDefaultActionFixedResponse,
)
from cdktf_cdktf_provider_aws.lb_listener_rule import (
    LbListenerRule,
    LbListenerRuleAction,
    LbListenerRuleCondition,
    LbListenerRuleConditionPathPattern,
)
from cdktf_cdktf_provider_aws.lb_target_group import LbTargetGroup, LbTargetGroupHealthCheck
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.wafv2_ip_set import Wafv2IpSet
from cdktf_cdktf_provider_aws.wafv2_web_acl import (
    Wafv2WebAcl,
    Wafv2WebAclDefaultAction,
    Wafv2WebAclRule,
    Wafv2WebAclVisibilityConfig,
)
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import (
    Wafv2WebAclLoggingConfiguration,
    Wafv2WebAclLoggingConfigurationRedactedFields,
    Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader,
)
from constructs import Construct

from gateway import contract
from modules.config import EdgeSettings
from modules.shared import LogDestination, allow_from_cidr, policy_document, security_group
from policies import routes

HEALTH_CHECK_PATH = contract.HEALTH_PATH
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Listener rules forwarding the served routes (policies/routes.yaml) take priorities from here on.
SERVED_RULE_PRIORITY = 10
# Managed rule groups, in evaluation order, with rules switched to count (they would block normal traffic).
MANAGED_RULE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AWSManagedRulesAmazonIpReputationList", ()),
    # Prompts are routinely larger than the 8 KB this rule allows.
    ("AWSManagedRulesCommonRuleSet", ("SizeRestrictions_BODY",)),
    ("AWSManagedRulesKnownBadInputsRuleSet", ()),
    ("AWSManagedRulesSQLiRuleSet", ()),
    # Tor exits and anonymizing proxies are blocked; cloud-hosted callers (other teams' services
    # on AWS) are only counted, since they are the gateway's normal clients.
    ("AWSManagedRulesAnonymousIpList", ("HostingProviderIPList",)),
)
# The per-IP rate-limit rule: its name is also its metric name (the Rule dimension of its WAF metrics).
RATE_LIMIT_RULE = "rate-limit-per-ip"
# Every request header LiteLLM accepts an API key in (its SpecialHeaders credential names: OpenAI,
# Azure, Anthropic, Google AI Studio, Azure APIM clients, and its own): the WAF log redacts each.
KEY_HEADERS = (
    "authorization",
    "x-litellm-api-key",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "ocp-apim-subscription-key",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EdgeWiring:
    """What the Edge construct takes from the stack and the other constructs (its settings: EdgeSettings)."""

    name: str  # prefix of resource names
    account_id: str  # names the log bucket and scopes its policy
    vpc_id: str  # target group VPC
    public_subnet_ids: list[str]  # where the ALB lives
    container_port: int  # target port of the tasks
    logs: LogDestination  # WAF log group's key and retention; the access-log bucket keeps as long
    # Where the ALB's security group and its rules get their Terraform addresses (None: this construct).
    # The stack passes the Network construct, where they were first made: a new address would replace them.
    security_group_scope: Construct | None = None


def _visibility(metric: str) -> dict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


class Edge(Construct):
    """ALB + target group + listeners + access-log bucket + WAF."""

    def __init__(self, scope: Construct, id: str, *, settings: EdgeSettings, wiring: EdgeWiring) -> None:
        super().__init__(scope, id)
        self._settings = settings
        self._wiring = wiring
        bucket = self._log_bucket()
        self.security_group = self._security_group()
        self.alb = Lb(
            self,
            "alb",
            name=wiring.name,
            internal=False,
            load_balancer_type="application",
            security_groups=[self.security_group.id],
            subnets=wiring.public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=settings.deletion_protection,
            idle_timeout=settings.idle_timeout,
            access_logs=LbAccessLogs(bucket=bucket.id, prefix="alb", enabled=True),
            depends_on=[self._bucket_policy],
        )
        self.target_group = LbTargetGroup(
            self,
            "tg",
            name=f"{wiring.name}-tg",
            port=wiring.container_port,
            protocol="HTTP",
            target_type="ip",
            vpc_id=wiring.vpc_id,
            deregistration_delay="30",
            health_check=LbTargetGroupHealthCheck(
                path=HEALTH_CHECK_PATH,
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
        )
        self._listeners()
        self._waf()

        # ------------------------------------------------------------ outputs
        self.alb_arn: str = self.alb.arn
        self.security_group_id: str = self.security_group.id
        self.alb_arn_suffix: str = self.alb.arn_suffix
        self.alb_dns_name: str = self.alb.dns_name
        self.target_group_arn: str = self.target_group.arn
        self.target_group_arn_suffix: str = self.target_group.arn_suffix
        self.https: bool = settings.certificate_arn is not None
        self.access_log_bucket: str = bucket.bucket

    def _security_group(self) -> SecurityGroup:
        """HTTP (and HTTPS with a certificate) in from the allowed client networks; the stack adds the egress
        to the tasks once their group exists."""
        wiring, settings = self._wiring, self._settings
        scope = wiring.security_group_scope or self
        group = security_group(
            scope,
            "alb-sg",
            name=f"{wiring.name}-alb",
            description="Gateway ALB: HTTP(S) from the allowed client networks",
            vpc_id=wiring.vpc_id,
        )
        ports = (80, 443) if settings.certificate_arn is not None else (80,)
        for i, cidr in enumerate(settings.allowed_client_cidrs):
            for port in ports:
                allow_from_cidr(
                    scope,
                    f"alb-in-{port}-{i}",
                    group_id=group.id,
                    cidr=cidr,
                    port=port,
                    description=f"clients {cidr}",
                )
        return group

    def _listeners(self) -> None:
        """The forwarding listener answers a fixed 404 by default; rules pass on only the served paths.

        The paths come from policies/routes.yaml (at most 5 per rule, an ALB limit); admin
        routes are never reachable here (docs/gateway.md "Routes"). The target group's health
        check reaches the tasks directly and is not subject to listener rules.
        """
        settings = self._settings
        if settings.certificate_arn is None:
            # Only with edge.allow_plaintext and its reason (modules/config refuses it otherwise).
            self.listener = self._listener("http", 80, "HTTP")
            rules = self._served_rules("http", self.listener)
        else:
            self.listener = self._listener(
                "https", 443, "HTTPS", ssl_policy=TLS_POLICY, certificate_arn=settings.certificate_arn
            )
            rules = self._served_rules("https", self.listener)
            # Plain HTTP redirects everything to HTTPS, where the same rules and 404 apply: a redirect
            # reaches no target (and checkov's HTTPS checks recognise only a redirecting default).
            LbListener(
                self,
                "http-redirect",
                load_balancer_arn=self.alb.arn,
                port=80,
                protocol="HTTP",
                default_action=[
                    LbListenerDefaultAction(
                        type="redirect",
                        redirect={"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"},
                    )
                ],
            )
        # What attaches the target group to the load balancer (an ECS service must wait for it).
        self.target_attachments: list = [self.listener, *rules]

    def _listener(self, id: str, port: int, protocol: str, **tls: str) -> LbListener:
        return LbListener(
            self,
            id,
            load_balancer_arn=self.alb.arn,
            port=port,
            protocol=protocol,
            default_action=[
                LbListenerDefaultAction(
                    type="fixed-response",
                    fixed_response=LbListenerDefaultActionFixedResponse(
                        status_code=str(routes.NOT_FOUND_STATUS),
                        content_type=routes.NOT_FOUND_CONTENT_TYPE,
                        message_body=routes.NOT_FOUND_BODY,
                    ),
                )
            ],
            **tls,
        )

    def _served_rules(self, id: str, listener: LbListener) -> list[LbListenerRule]:
        action = LbListenerRuleAction(type="forward", target_group_arn=self.target_group.arn)
        return [
            LbListenerRule(
                self,
                f"{id}-served-{index}",
                listener_arn=listener.arn,
                priority=SERVED_RULE_PRIORITY + index,
                action=[action],
                condition=[
                    LbListenerRuleCondition(path_pattern=LbListenerRuleConditionPathPattern(values=paths))
                ],
            )
            for index, paths in enumerate(routes.alb_path_groups())
        ]

    # ------------------------------------------------------------ access logs
    def _log_bucket(self) -> S3Bucket:
        wiring = self._wiring
        bucket = S3Bucket(
            self,
            "access-logs",
            bucket=f"{wiring.name}-alb-logs-{wiring.account_id}",
            # A protected environment keeps its access logs when the stack is destroyed.
            force_destroy=not self._settings.deletion_protection,
        )
        S3BucketPublicAccessBlock(
            self,
            "access-logs-public-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self,
            "access-logs-ownership",
            bucket=bucket.id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        S3BucketVersioningA(
            self,
            "access-logs-versioning",
            bucket=bucket.id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        # ALB access logs support only SSE-S3 (AES256), not SSE-KMS.
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "access-logs-sse",
            bucket=bucket.id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=(
                        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="AES256"
                        )
                    ),
                )
            ],
        )
        S3BucketLifecycleConfiguration(
            self,
            "access-logs-lifecycle",
            bucket=bucket.id,
            rule=[
                S3BucketLifecycleConfigurationRule(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                    expiration=[
                        S3BucketLifecycleConfigurationRuleExpiration(days=wiring.logs.retention_days)
                    ],
                    noncurrent_version_expiration=[
                        S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=7)
                    ],
                    abort_incomplete_multipart_upload=[
                        S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                            days_after_initiation=1
                        )
                    ],
                )
            ],
        )
        elb_account = DataAwsElbServiceAccount(self, "elb-account")
        log_objects = f"{bucket.arn}/alb/AWSLogs/{wiring.account_id}/*"
        self._bucket_policy = S3BucketPolicy(
            self,
            "access-logs-policy",
            bucket=bucket.id,
            policy=policy_document(
                {
                    # Regions older than August 2022 deliver as the regional ELB account ...
                    "Sid": "ElbLogDeliveryAccount",
                    "Effect": "Allow",
                    "Principal": {"AWS": elb_account.arn},
                    "Action": "s3:PutObject",
                    "Resource": log_objects,
                },
                {
                    # ... newer ones as the log delivery service.
                    "Sid": "ElbLogDeliveryService",
                    "Effect": "Allow",
                    "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": log_objects,
                },
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket.arn, f"{bucket.arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ),
        )
        return bucket

    # ------------------------------------------------------------ WAF
    def _waf(self) -> None:
        wiring, settings = self._wiring, self._settings
        allowed = Wafv2IpSet(
            self,
            "allowed-clients",
            name=f"{wiring.name}-allowed-clients",
            description="Client networks allowed through the gateway's WAF",
            scope="REGIONAL",
            ip_address_version="IPV4",
            addresses=list(settings.allowed_client_cidrs),
        )
        rules = [
            Wafv2WebAclRule(
                name=RATE_LIMIT_RULE,
                priority=0,
                action={"block": {}},
                statement={
                    "rate_based_statement": {"limit": settings.waf_rate_limit, "aggregate_key_type": "IP"}
                },
                visibility_config=_visibility(RATE_LIMIT_RULE),
            )
        ]
        for priority, (group, counted) in enumerate(MANAGED_RULE_GROUPS, start=1):
            statement: dict = {"vendor_name": "AWS", "name": group}
            if counted:
                statement["rule_action_override"] = [
                    {"name": rule, "action_to_use": {"count": {}}} for rule in counted
                ]
            rules.append(
                Wafv2WebAclRule(
                    name=group,
                    priority=priority,
                    override_action={"none": {}},
                    statement={"managed_rule_group_statement": statement},
                    visibility_config=_visibility(group),
                )
            )
        rules.append(
            Wafv2WebAclRule(
                name="allow-listed-clients",
                priority=len(rules),
                action={"allow": {}},
                statement={"ip_set_reference_statement": {"arn": allowed.arn}},
                visibility_config=_visibility("allow-listed-clients"),
            )
        )
        self.web_acl = Wafv2WebAcl(
            self,
            "waf",
            name=wiring.name,
            description="Gateway WAF: rate limit, AWS managed rules, client allow-list; block otherwise",
            scope="REGIONAL",
            default_action=Wafv2WebAclDefaultAction(block={}),
            rule=rules,
            visibility_config=Wafv2WebAclVisibilityConfig(**_visibility(wiring.name)),
        )
        Wafv2WebAclAssociation(
            self, "waf-association", resource_arn=self.alb.arn, web_acl_arn=self.web_acl.arn
        )
        # WAF only logs to groups whose name starts with aws-waf-logs-.
        group = wiring.logs.group(self, "waf-log-group", f"aws-waf-logs-{wiring.name}")
        Wafv2WebAclLoggingConfiguration(
            self,
            "waf-logging",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[group.arn],
            # LiteLLM also reads a key from the `key` query argument (Google's generateContent routes);
            # WAF can only redact the whole query string, which the OpenAI routes do not use.
            redacted_fields=[
                *(
                    Wafv2WebAclLoggingConfigurationRedactedFields(
                        single_header=Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader(name=header)
                    )
                    for header in KEY_HEADERS
                ),
                Wafv2WebAclLoggingConfigurationRedactedFields(query_string={}),
            ],
        )
        self.web_acl_arn: str = self.web_acl.arn
        self.waf_log_group_name: str = group.name
        # The WebACL and Rule dimensions of the WAF's CloudWatch metrics (the alarms on blocks).
        self.waf_metric_name: str = wiring.name
        self.waf_rate_limit_metric_name: str = RATE_LIMIT_RULE
