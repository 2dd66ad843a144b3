"""Fault plans: the knobs tests turn to prove retries, fallbacks and timeouts.

A plan targets one model id (it also covers every profile of that model when
given as the foundation-model id), the guardrail (`"guardrail"`) or everything
(`"*"`). Deterministic faults (`throttle_next`, `fail_next`) count down;
random ones (`error_rate`) draw from a seeded RNG, so a run is reproducible.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field

from gateway.emulator.exceptions import FAULT_ERRORS, AwsError, ThrottlingException

ALL = "*"
GUARDRAIL = "guardrail"
_PLAN_KEYS = {
    "model_id",
    "guardrail",
    "throttle_next",
    "fail_next",
    "error_rate",
    "status",
    "latency_ms",
    "seed",
}


@dataclass
class FaultPlan:
    throttle_next: int = 0
    fail_next: int = 0
    error_rate: float = 0.0
    status: int = 503  # of fail_next and error_rate faults
    latency_ms: int | None = None
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def public(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("rng")
        return data


class FaultInjector:
    """Thread-safe store of fault plans; `check` is on every request's path, so it stays cheap."""

    def __init__(self, default_latency_ms: int = 0) -> None:
        self._lock = threading.Lock()
        self._plans: dict[str, FaultPlan] = {}
        self.default_latency_ms = default_latency_ms

    def configure(self, request: dict[str, object]) -> dict[str, object]:
        """Merge a control-API request into the target's plan; raises ValueError on a bad request."""
        unknown = set(request) - _PLAN_KEYS
        if unknown:
            raise ValueError(
                f"unknown field(s): {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_PLAN_KEYS))}"
            )
        if request.get("guardrail") and "model_id" in request:
            raise ValueError("give either model_id or guardrail, not both")
        target = GUARDRAIL if request.get("guardrail") else str(request.get("model_id") or ALL)
        updates = {
            key: request[key]
            for key in ("throttle_next", "fail_next", "latency_ms", "seed")
            if key in request
        }
        for key, value in updates.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} must be a non-negative integer")
        if "error_rate" in request:
            rate = request["error_rate"]
            if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
                raise ValueError("error_rate must be a number between 0 and 1")
            updates["error_rate"] = float(rate)
        if "status" in request:
            if request["status"] not in FAULT_ERRORS:
                raise ValueError(f"status must be one of {sorted(FAULT_ERRORS)}")
            updates["status"] = request["status"]
        with self._lock:
            plan = self._plans.setdefault(target, FaultPlan())
            for key, value in updates.items():
                setattr(plan, key, value)
            if "seed" in updates or "error_rate" in updates:
                plan.rng.seed(plan.seed)
            return {"target": target, **plan.public()}

    def check(self, targets: tuple[str, ...]) -> tuple[AwsError | None, float]:
        """The error to inject (if any) and the latency in seconds for a call on `targets`.

        `targets` lists the most specific key first; the first plan with a fault to give wins,
        and the most specific plan that sets a latency decides the latency.
        """
        with self._lock:
            if not self._plans:
                return None, self.default_latency_ms / 1000
            plans = [self._plans[t] for t in (*targets, ALL) if t in self._plans]
            latency = next((p.latency_ms for p in plans if p.latency_ms is not None), self.default_latency_ms)
            for plan in plans:
                if plan.throttle_next > 0:
                    plan.throttle_next -= 1
                    return ThrottlingException(), latency / 1000
                if plan.fail_next > 0:
                    plan.fail_next -= 1
                    return FAULT_ERRORS[plan.status](), latency / 1000
                if plan.error_rate > 0 and plan.rng.random() < plan.error_rate:
                    return FAULT_ERRORS[plan.status](), latency / 1000
            return None, latency / 1000

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "default_latency_ms": self.default_latency_ms,
                "plans": {target: plan.public() for target, plan in self._plans.items()},
            }
