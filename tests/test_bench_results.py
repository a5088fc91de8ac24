"""The benchmark's results file keeps its shape (the numbers themselves are not tested).

``make bench-quick`` (or ``make bench``) writes ``bench/results/latest.json``; this checks the
committed one against ``bench/results/schema.json`` and that REPORT.md was written from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_the_latest_results_follow_the_schema_and_the_report_shows_them() -> None:
    schema = json.loads((BENCH / "results" / "schema.json").read_text())
    results = json.loads((BENCH / "results" / "latest.json").read_text())
    jsonschema.validate(results, schema, format_checker=jsonschema.FormatChecker())
    report = (BENCH / "REPORT.md").read_text()
    assert results["generated_at"] in report
    for goal in results["goals"]:
        assert goal["name"] in report
