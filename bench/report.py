"""``bench/REPORT.md`` (and its PNG plots) from a run's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_report"]


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _plots(results: dict[str, Any], folder: Path) -> list[str]:
    """PNG plots when matplotlib is installed (the ``bench`` extra); their file names."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    rows = results["saga_vs_floor"]
    labels = [
        f"N={r['n']}\n{'route' if r['routes'] else 'no route'}\nround {r['round']}" for r in rows
    ]
    figure, axis = plt.subplots(figsize=(max(6, len(rows) * 1.2), 4))
    axis.bar(labels, [r["ratio"] for r in rows], color="#4c72b0")
    axis.axhline(0.8, color="#c44e52", linestyle="--", label="goal 0.8")
    axis.set_ylabel("sagas/s ÷ floor/s")
    axis.set_title("numberflow saga vs Temporal floor (same server, same worker)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "saga_vs_floor.png", dpi=110)
    plt.close(figure)
    made.append("saga_vs_floor.png")
    per = results["per_saga"]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot([r["quantity"] for r in per], [r["history_events"] for r in per], marker="o")
    axis.axhline(5120, color="#c44e52", linestyle="--", label="goal 5,120 events")
    axis.set_xscale("log")
    axis.set_xlabel("numbers in the ticket")
    axis.set_ylabel("history events")
    axis.set_title("history of one saga by quantity")
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "history_by_quantity.png", dpi=110)
    plt.close(figure)
    made.append("history_by_quantity.png")
    return made


def write_report(results: dict[str, Any], folder: Path) -> None:
    """Write REPORT.md (and the plots) into ``folder``."""
    plots = _plots(results, folder / "results")
    machine, versions = results["machine"], results["versions"]
    parts = [
        "# numberflow benchmarks",
        "",
        f"Run `{results['mode']}` at {results['generated_at']} on {machine['cpus']} CPUs, "
        f"Python {machine['python']}, {machine['platform']}; numberflow {versions['numberflow']}, "
        f"temporalio {versions['temporalio']}, temporal CLI {versions['temporal_cli']}. "
        "Dev server in memory, emulator LROs 50 ms in its own process, workers in one process "
        "with the SDK's defaults. Figures are ratios taken side by side in this run; "
        "`make bench` (full) or `make bench-quick` regenerates this file.",
        "",
        "## Goals",
        "",
        _table(
            ["figure", "value", "goal", "met"],
            [
                [g["name"], g["value"], g["goal"], "yes" if g["met"] else "**no**"]
                for g in results["goals"]
            ],
        ),
        "",
        "## (1) Saga vs floor",
        "",
        "The floor is a workflow with the saga's 8 activities (doing nothing) and the same "
        "approve Update, on the same server and a worker with the same settings; rounds "
        "alternate saga and floor at each size.",
        "",
        _table(
            ["N", "route", "round", "sagas/s", "floor/s", "ratio"],
            [
                [
                    r["n"],
                    "yes" if r["routes"] else "no",
                    r["round"],
                    r["saga_per_s"],
                    r["floor_per_s"],
                    r["ratio"],
                ]
                for r in results["saga_vs_floor"]
            ],
        ),
        "",
        "## (4) Ingress vs raw start",
        "",
        _table(
            [
                "requests",
                "ingress p50 ms",
                "ingress p99 ms",
                "raw p50 ms",
                "raw p99 ms",
                "p99 ratio",
            ],
            [
                [
                    results["ingress"][k]
                    for k in (
                        "requests",
                        "ingress_p50_ms",
                        "ingress_p99_ms",
                        "raw_p50_ms",
                        "raw_p99_ms",
                        "p99_ratio",
                    )
                ]
            ],
        ),
        "",
        "## (5) One saga by quantity (routed, with capabilities)",
        "",
        _table(
            [
                "numbers",
                "outcome",
                "history events",
                "history bytes",
                "ACS requests",
                "worker CPU s",
                "seconds",
            ],
            [
                [
                    r["quantity"],
                    r["outcome"],
                    r["history_events"],
                    r["history_bytes"],
                    r["acs_requests"],
                    r["worker_cpu_seconds"],
                    r["seconds"],
                ]
                for r in results["per_saga"]
            ],
        ),
        "",
        "## (2) LRO lag and polls vs the official SDK's poller",
        "",
        "One search operation of each length on its own emulator, through the saga's path "
        "(an activity starts it, the `POLL` retry policy polls it) and through "
        "`azure-communication-phonenumbers`' poller; lag is the wall time past the operation.",
        "",
        _table(
            ["operation s", "numberflow lag s", "numberflow polls", "SDK lag s", "SDK polls"],
            [
                [
                    r["operation_seconds"],
                    r["numberflow_lag_s"],
                    r["numberflow_polls"],
                    r["sdk_lag_s"],
                    r["sdk_polls"],
                ]
                for r in results["lro"]
            ],
        ),
        "",
        "## Not measured yet",
        "",
        *[f"- {item}" for item in results["not_measured"]],
        "",
    ]
    if plots:
        parts += ["## Plots", "", *[f"![{name}](results/{name})" for name in plots], ""]
    (folder / "REPORT.md").write_text("\n".join(parts))
