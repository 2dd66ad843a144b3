"""The smoke checks, in the order they run: cheap and fundamental first, then features, then abuse."""

from __future__ import annotations

from gateway.smoke.checks import (
    access,
    bad_requests,
    cache,
    database,
    degradation,
    errors,
    guardrail,
    guardrail_table,
    limits,
    models,
    node_sdk,
    request_limits,
    resilience,
    rotation,
    routes,
    service,
    stream_timing,
    teams,
    tracing,
)
from gateway.smoke.runner import Check
from gateway.smoke.target import Target


def all_checks(target: Target) -> list[Check]:
    plain = [
        service.health_liveliness,
        service.health_readiness,
        service.models_listed,
        *access.ROWS,  # first of the database rows: provisioning from access.yaml is checked before others
        *[models.chat_on(alias) for alias in target.environment.aliases("chat")],
        models.chat_streamed,
        models.embedding,
        models.embedding_encodings_agree,
        node_sdk.node_sdk_defaults,
        guardrail.prompt_attack_refused,
        guardrail.email_anonymized,
        guardrail.long_harmful_answer_streams_then_stops,
        stream_timing.short_stream_first_token_before_its_output_check,
        cache.repeated_request_cached,
        cache.no_hit_across_teams,
        errors.no_key_401,
        errors.wrong_key_401,
        errors.malformed_json_400,
        errors.unknown_model_4xx,
        errors.missing_messages_4xx,
        errors.still_serving,
        resilience.throttled_model_recovers,
        resilience.throttled_model_falls_back,
        tracing.trace_in_phoenix,
        tracing.trace_content_withheld,
        limits.key_rpm_limit,
        limits.revoked_key_401,
        limits.key_budget_exhausted,
        database.database_outage_fails_closed_and_recovers,
        rotation.database_password_rotation_under_traffic_fails_no_request,
        *request_limits.rows(),
        *degradation.rows(),
        teams.teams_model_allow_list_enforced,
        teams.teams_budget_caps_both_keys,
        teams.key_budget_spend_recorded,
    ]
    return (
        [Check(name=check.__name__, run=check) for check in plain]
        + guardrail_table.rows()
        + bad_requests.rows()
        + routes.rows()
    )
