"""One run against a gateway (`reconcile`) and the branch-vs-base diff the pull request shows.

Shared by the CLI (`python -m pipeline.access`), the admin task (gateway/admin.py) and the smoke's
provisioning (gateway/smoke/provision.py), so all three plan and apply through the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gateway.access.apply import apply
from gateway.access.diff import Plan, plan, render
from gateway.access.gateway import GatewayAdmin
from gateway.access.secrets import SecretStore
from gateway.access.state import Live, LiveKey, LiveTeam, desired
from modules.config.access import ACCESS_FILE, AccessConfig

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def reconcile(
    command: str,
    access: AccessConfig,
    admin: GatewayAdmin,
    store: SecretStore,
    *,
    allow_delete: bool = False,
    log: Callable[[str], None] = print,
    now: datetime | None = None,
) -> tuple[int, Plan]:
    """Plan (and for `apply`, carry out) one environment's declaration against one gateway.

    `now` is the time key ages and grace periods are measured at (default: the clock).
    """
    wanted = desired(access)
    live = admin.live()
    planned = plan(wanted, live, allow_delete=allow_delete, now=now)
    log(render(planned, target=admin.url))
    if command == "plan":
        return (EXIT_OK if planned.empty else EXIT_CHANGES), planned
    actionable = [c for c in planned.changes if not c.refused]
    if not planned.changes:
        log("\nApply: nothing to do.")
        return EXIT_OK, planned
    log(f"\nApplying {len(actionable)} change(s):")
    done = apply(planned, wanted, live, admin, store, log=log, now=now)
    log(f"Apply complete: {done} change(s) made, {len(planned.changes) - done} refused.")
    return EXIT_OK, planned


def declared_diff(access: AccessConfig, base: AccessConfig | None) -> Plan:
    """What a branch's access.yaml changes against the base's: a plan against a gateway holding the base."""
    before = desired(base) if base is not None else None
    teams = tuple(
        LiveTeam(team_id=t.alias, alias=t.alias, settings=dict(t.settings), managed=True)
        for t in (before.teams if before else ())
    )
    keys = tuple(
        LiveKey(
            token=k.alias, alias=k.alias, team_id=k.settings["team"], settings=dict(k.settings), managed=True
        )
        for k in (before.keys if before else ())
    )
    return plan(desired(access), Live(teams=teams, keys=keys), allow_delete=True)


def markdown(planned: Plan, base: str) -> str:
    """The pull-request comment's Access section of one environment (`diff`)."""
    head = f"### Access: {planned.environment}\n\n"
    if not planned.changes:
        return head + f"No change to `environments/{planned.environment}/{ACCESS_FILE}` against `{base}`.\n"
    body = _unindented(render(planned))
    return (
        head
        + f"Changes to `environments/{planned.environment}/{ACCESS_FILE}` against `{base}`:\n\n"
        + f"```diff\n{body}\n```\n"
    )


def _unindented(rendered: str) -> str:
    """The plan's lines without its title, shifted so +/- start the line (a ```diff block colours them)."""
    lines = rendered.split("\n")[1:]
    return "\n".join(line[2:] if line.startswith("  ") else line for line in lines).strip("\n")


def live_markdown(planned: Plan, command: str) -> str:
    """A run-page summary of `plan`/`apply` against a gateway (the drift and deploy jobs)."""
    state = "in sync" if planned.empty else "changes or drift"
    body = _unindented(render(planned))
    return f"### Access {command}: {planned.environment} ({state})\n\n```diff\n{body}\n```\n"
