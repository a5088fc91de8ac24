"""Fault injection: rules that make matching requests fail, slow down, drop or misbehave.

A rule is JSON posted to ``/_emulator/faults``::

    {"method": "POST", "path": "/:purchase$", "operation": "PhoneNumbers_PurchasePhoneNumbers",
     "operationKind": "purchase", "times": 1, "probability": 1.0,
     "action": {"type": "status", "status": 503, "code": "ServiceUnavailable", "retryAfter": 1}}

Actions: ``status`` (error answer, optional ``retryAfter``), ``latency`` (``seconds``),
``drop`` (close the connection; ``when`` = ``before`` the work or ``after`` it, so the work is
done but the answer lost), ``lroFail`` (the started operation ends ``failed`` with ``code``),
``lroBackwards`` (the operation's status goes running -> notStarted before it finishes).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from ._errors import ApiError
from ._operations import LroFault

__all__ = ["FaultBook", "FaultRule", "Verdict"]

_ACTIONS = ("status", "latency", "drop", "lroFail", "lroBackwards")
_LRO_ACTIONS = ("lroFail", "lroBackwards")


@dataclass
class FaultRule:
    """One rule; ``times`` left (None = unlimited) and ``probability`` of firing."""

    id: int
    action: dict[str, Any]
    method: str | None = None
    path: re.Pattern[str] | None = None
    operation: str | None = None
    operation_kind: str | None = None
    times: int | None = None
    probability: float = 1.0
    fired: int = 0

    def to_wire(self) -> dict[str, Any]:
        """The rule as the admin API shows it."""
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path.pattern if self.path else None,
            "operation": self.operation,
            "operationKind": self.operation_kind,
            "times": self.times,
            "probability": self.probability,
            "fired": self.fired,
            "action": self.action,
        }


@dataclass
class Verdict:
    """What the matching rules decided for one request."""

    latency: float = 0.0
    error: ApiError | None = None
    drop: str | None = None
    lro: LroFault = field(default_factory=LroFault)


class FaultBook:
    """The active rules, with a seeded random source for probabilistic ones."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._ids = count(1)
        self.rules: list[FaultRule] = []

    def clear(self) -> None:
        """Remove every rule and restart the random source."""
        self.rules.clear()
        self._rng = random.Random(self._seed)

    def add(self, spec: Any) -> FaultRule:
        """Validate and add a rule from its JSON form."""
        if not isinstance(spec, dict) or not isinstance(spec.get("action"), dict):
            raise ApiError(400, "InvalidInput", "A fault rule needs an 'action' object.")
        action = dict(spec["action"])
        kind = action.get("type")
        if kind not in _ACTIONS:
            raise ApiError(
                400, "InvalidInput", f"action.type must be one of {', '.join(_ACTIONS)}."
            )
        if kind == "status" and not (
            isinstance(action.get("status"), int) and 400 <= action["status"] <= 599
        ):
            raise ApiError(400, "InvalidInput", "a status action needs 'status' 400-599.")
        if kind == "drop" and action.setdefault("when", "before") not in ("before", "after"):
            raise ApiError(400, "InvalidInput", "drop.when must be 'before' or 'after'.")
        try:
            path = re.compile(spec["path"]) if spec.get("path") else None
        except re.error as exc:
            raise ApiError(400, "InvalidInput", f"path is not a regex: {exc}") from None
        times = spec.get("times")
        probability = float(spec.get("probability", 1.0))
        if (
            times is not None and (not isinstance(times, int) or times < 1)
        ) or not 0 < probability <= 1:
            raise ApiError(400, "InvalidInput", "times must be >= 1 and probability in (0, 1].")
        rule = FaultRule(
            next(self._ids),
            action,
            method=str(spec["method"]).upper() if spec.get("method") else None,
            path=path,
            operation=spec.get("operation"),
            operation_kind=spec.get("operationKind"),
            times=times,
            probability=probability,
        )
        self.rules.append(rule)
        return rule

    def decide(
        self, method: str, path: str, operation: str, kind: str | None, starts_lro: bool
    ) -> Verdict:
        """Fire the rules matching this request and combine their actions."""
        verdict = Verdict()
        fail: tuple[str, str] | None = None
        backwards = False
        for rule in self.rules:
            action = rule.action["type"]
            if action in _LRO_ACTIONS and not starts_lro:
                continue
            if not self._matches(rule, method, path, operation, kind):
                continue
            if rule.times is not None and rule.fired >= rule.times:
                continue
            if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                continue
            rule.fired += 1
            a = rule.action
            if action == "latency":
                verdict.latency += float(a.get("seconds", 0))
            elif action == "status" and verdict.error is None and verdict.drop is None:
                headers = {"Retry-After": str(a["retryAfter"])} if a.get("retryAfter") else {}
                verdict.error = ApiError(
                    int(a["status"]),
                    str(a.get("code", "InjectedFault")),
                    str(a.get("message", "Fault injected by the emulator.")),
                    headers=headers,
                )
            elif action == "drop" and verdict.error is None and verdict.drop is None:
                verdict.drop = str(a["when"])
            elif action == "lroFail":
                fail = (
                    str(a.get("code", "OperationFailed")),
                    str(a.get("message", "The operation failed.")),
                )
            elif action == "lroBackwards":
                backwards = True
        verdict.lro = LroFault(fail[0] if fail else None, fail[1] if fail else None, backwards)
        return verdict

    @staticmethod
    def _matches(rule: FaultRule, method: str, path: str, operation: str, kind: str | None) -> bool:
        return (
            (rule.method is None or rule.method == method)
            and (rule.path is None or rule.path.search(path) is not None)
            and (rule.operation is None or rule.operation == operation)
            and (rule.operation_kind is None or rule.operation_kind == kind)
        )
