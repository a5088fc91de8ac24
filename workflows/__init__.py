"""Deterministic workflows; every side effect goes through activities."""

from .provision import ProvisionNumbersWorkflow
from .reconcile import ReconcileWorkflow
from .release import ReleaseNumbersWorkflow
from .sip_routing import SipRoutingWorkflow

WORKFLOWS = [
    ProvisionNumbersWorkflow,
    SipRoutingWorkflow,
    ReleaseNumbersWorkflow,
    ReconcileWorkflow,
]

__all__ = [
    "WORKFLOWS",
    "ProvisionNumbersWorkflow",
    "ReconcileWorkflow",
    "ReleaseNumbersWorkflow",
    "SipRoutingWorkflow",
]
