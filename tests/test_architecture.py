"""Dependencies point one way: acs/ and emulator/ import nothing from the project."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} | {
    p.stem for p in ROOT.glob("*.py")
}


def imported_top_levels(package: str) -> set[str]:
    """Top-level module names imported anywhere in a package (relative imports excluded)."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", ["acs", "emulator"])
def test_library_packages_import_no_project_code(package: str) -> None:
    """acs and emulator stand alone (and acs never imports temporalio)."""
    assert imported_top_levels(package) & (PROJECT - {package}) == set()
    assert "temporalio" not in imported_top_levels(package)


def test_contracts_are_free_of_io_and_implementation() -> None:
    """contracts/ crosses the sandbox: no HTTP, no ACS client, no activities or workflows."""
    forbidden = {"acs", "activities", "workflows", "emulator", "httpx", "settings", "worker"}
    assert imported_top_levels("contracts") & forbidden == set()


def test_workflows_reach_acs_only_through_activities() -> None:
    """Workflows never import the ACS client, the emulator or an HTTP library directly."""
    assert (
        imported_top_levels("workflows") & {"acs", "emulator", "httpx", "structlog", "settings"}
        == set()
    )


SANDBOXED_WORKFLOW_MODULES = {"provision.py", "sip_routing.py", "release.py", "reconcile.py"}
"""Run inside the sandbox, whose restrictions catch a nondeterministic call at run time."""
_NONDETERMINISTIC_MODULES = {"time", "random", "uuid", "os", "socket", "threading", "secrets"}
_NONDETERMINISTIC_CALLS = {"now", "utcnow", "today", "sleep", "urandom", "getrandbits"}


@pytest.mark.parametrize(
    "path",
    sorted(
        p.name
        for p in (ROOT / "workflows").glob("*.py")
        if p.name not in SANDBOXED_WORKFLOW_MODULES
    ),
)
def test_workflow_helpers_passed_through_the_sandbox_are_deterministic(path: str) -> None:
    """The saga's parts are loaded once, outside the sandbox (a sandboxed copy per saga cost
    memory), so its run-time restrictions do not watch them: this does, statically. Time,
    randomness and ids come from ``workflow.now()`` and ``workflow.uuid4()`` only."""
    tree = ast.parse((ROOT / "workflows" / path).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert imported & _NONDETERMINISTIC_MODULES == set()
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "workflow")
    }
    assert calls & _NONDETERMINISTIC_CALLS == set()
