"""The alert rules as tested code: ``promtool check rules`` and ``promtool test rules``.

``alert_rules/*.test.yaml`` hold promtool unit tests: for every alert, series that fire it once
its ``for`` has elapsed, and series just short of it that must not. promtool comes from
Debian's ``prometheus`` package (``make tools`` installs it). The label sets of those series
are the ones a real worker's scrape has: ``tests/test_telemetry.py`` checks them against one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "observability" / "alerts.yaml"
UNIT_TESTS = sorted((Path(__file__).parent / "alert_rules").glob("*.test.yaml"))
_SERIES = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>.*)\}$")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: make tools installs Debian's prometheus package")
    return found


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def series_in_unit_tests() -> list[tuple[str, frozenset[str]]]:
    """Every input series of the unit tests: its metric name and its label names."""
    found = []
    for path in UNIT_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for series in test["input_series"]:
                match = _SERIES.match(series["series"])
                assert match, f"{path.name}: {series['series']} is not name{{labels}}"
                labels = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', match["labels"])
                found.append((match["name"], frozenset(labels)))
    return found


def test_the_rules_are_valid() -> None:
    checked = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in checked.stdout


def test_every_alert_fires_on_its_condition_and_not_just_short_of_it() -> None:
    ran = subprocess.run(
        [promtool(), "test", "rules", *map(str, UNIT_TESTS)],
        cwd=UNIT_TESTS[0].parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in UNIT_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test["alert_rule_test"]:
                (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - firing == set(), "alerts no test makes fire"
    assert names - quiet == set(), "alerts no test shows quiet"


def test_every_alert_tells_the_on_call_engineer_what_to_do() -> None:
    for rule in alerts():
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook"} <= annotations.keys(), rule["alert"]
        assert annotations["runbook"].startswith("README.md#"), rule["alert"]
