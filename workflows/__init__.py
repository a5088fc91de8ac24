"""Deterministic workflows; every side effect goes through activities."""

from .provision import ProvisionNumbersWorkflow

WORKFLOWS = [ProvisionNumbersWorkflow]

__all__ = ["WORKFLOWS", "ProvisionNumbersWorkflow"]
