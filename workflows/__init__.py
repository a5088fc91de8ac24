"""Deterministic workflows; every side effect goes through activities.

The names below are loaded on first use, not when the package is imported: the worker's sandbox
imports ``workflows.<module>`` afresh for every workflow instance, and Python runs this package's
``__init__`` first, so eager imports here would run all five workflow modules for each saga.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .provision import ProvisionNumbersWorkflow
    from .quota_keeper import QuotaKeeperWorkflow
    from .reconcile import ReconcileWorkflow
    from .release import ReleaseNumbersWorkflow
    from .sip_routing import SipRoutingWorkflow

    WORKFLOWS: list[type]

__all__ = [
    "WORKFLOWS",
    "ProvisionNumbersWorkflow",
    "QuotaKeeperWorkflow",
    "ReconcileWorkflow",
    "ReleaseNumbersWorkflow",
    "SipRoutingWorkflow",
]

_MODULES = {
    "ProvisionNumbersWorkflow": ".provision",
    "QuotaKeeperWorkflow": ".quota_keeper",
    "ReconcileWorkflow": ".reconcile",
    "ReleaseNumbersWorkflow": ".release",
    "SipRoutingWorkflow": ".sip_routing",
}


def __getattr__(name: str) -> Any:
    if name == "WORKFLOWS":
        return [__getattr__(workflow) for workflow in _MODULES]
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
