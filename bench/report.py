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


def _section(title: str, intro: str, headers: list[str], rows: list[list[Any]]) -> list[str]:
    return [f"## {title}", "", *([intro, ""] if intro else []), _table(headers, rows), ""]


def _pick(row: dict[str, Any], keys: tuple[str, ...]) -> list[Any]:
    return [row[key] for key in keys]


def _header(results: dict[str, Any]) -> list[str]:
    machine, versions = results["machine"], results["versions"]
    return [
        "# numberflow benchmarks",
        "",
        f"Run `{results['mode']}` at {results['generated_at']} on {machine['cpus']} CPUs, "
        f"Python {machine['python']}, {machine['platform']}; numberflow {versions['numberflow']}, "
        f"temporalio {versions['temporalio']}, temporal CLI {versions['temporal_cli']}. "
        "Dev server in memory, emulator LROs 50 ms in its own process; (1), (2), (4), (5) and "
        "(7) run the worker in the bench's process with the SDK's defaults, (3) and (6) run "
        "`worker.py` processes as shipped. Figures are ratios taken side by side in this run; "
        "`make bench` (full) or `make bench-quick` regenerates this file.",
        "",
    ]


def _goals(results: dict[str, Any]) -> list[str]:
    rows = [
        [g["name"], g["value"], g["goal"], "yes" if g["met"] else "**no**"]
        for g in results["goals"]
    ]
    return _section("Goals", "", ["figure", "value", "goal", "met"], rows)


def _saga_vs_floor(results: dict[str, Any]) -> list[str]:
    rows = [
        [r["n"], "yes" if r["routes"] else "no", r["round"], r["saga_per_s"]]
        + _pick(r, ("floor_per_s", "ratio"))
        for r in results["saga_vs_floor"]
    ]
    return _section(
        "(1) Saga vs floor",
        "The floor is a workflow with the saga's 8 activities (doing nothing) and the same "
        "approve Update, on the same server and a worker with the same settings; rounds "
        "alternate saga and floor at each size.",
        ["N", "route", "round", "sagas/s", "floor/s", "ratio"],
        rows,
    )


def _ingress(results: dict[str, Any]) -> list[str]:
    keys = ("requests", "ingress_p50_ms", "ingress_p99_ms", "raw_p50_ms", "raw_p99_ms")
    return _section(
        "(4) Ingress vs raw start",
        "",
        ["requests", "ingress p50 ms", "ingress p99 ms", "raw p50 ms", "raw p99 ms", "p99 ratio"],
        [_pick(results["ingress"], (*keys, "p99_ratio"))],
    )


def _per_saga(results: dict[str, Any]) -> list[str]:
    keys = (
        "quantity",
        "outcome",
        "history_events",
        "history_bytes",
        "acs_requests",
        "worker_cpu_seconds",
        "seconds",
    )
    return _section(
        "(5) One saga by quantity (routed, with capabilities)",
        "",
        ["numbers", "outcome", "history events", "history bytes", "ACS requests", "CPU s", "s"],
        [_pick(r, keys) for r in results["per_saga"]],
    )


def _lro(results: dict[str, Any]) -> list[str]:
    keys = ("operation_seconds", "numberflow_lag_s", "numberflow_polls", "sdk_lag_s", "sdk_polls")
    return _section(
        "(2) LRO lag and polls vs the official SDK's poller",
        "One search operation of each length on its own emulator, through the saga's path "
        "(an activity starts it, the poll activity polls it on `acs.POLL_SCHEDULE`) and through "
        "`azure-communication-phonenumbers`' poller; lag is the wall time past the operation.",
        ["operation s", "numberflow lag s", "numberflow polls", "SDK lag s", "SDK polls"],
        [_pick(r, keys) for r in results["lro"]],
    )


def _parked(results: dict[str, Any]) -> list[str]:
    keys = (
        "parked",
        "parked_per_s",
        "worker_rss_idle_mib",
        "worker_rss_parked_mib",
        "worker_rss_growth_mib",
        "server_rss_idle_mib",
        "server_rss_parked_mib",
        "approvals_per_s",
    )
    return _section(
        "(3) Parked sagas",
        "Sagas started in waves of 500 (100 starts in flight) on one `worker.py` process "
        "(cache of `NUMBERFLOW_MAX_CACHED_WORKFLOWS`, 1,000), each parked at the approval; RSS "
        "from `/proc`; then all approved by the `decide` signal (100 in flight), approvals/s "
        "counted until every saga has taken its approval.",
        ["parked", "parked/s", "worker idle MiB", "worker parked MiB", "growth MiB"]
        + ["server idle MiB", "server parked MiB", "approvals/s"],
        [_pick(results["parked"], keys)],
    )


def _workers(results: dict[str, Any]) -> list[str]:
    return _section(
        "(6) One vs two worker processes",
        "The same burst of routed, auto-approved sagas on the same server, two cores in all.",
        ["workers", "N", "sagas/s"],
        [_pick(r, ("workers", "n", "sagas_per_s")) for r in results["workers"]],
    )


def _plain(results: dict[str, Any]) -> list[str]:
    row = results["plain_script"]
    rows = [
        ["plain script"]
        + _pick(row, ("plain_per_s", "plain_acs_requests_per_ticket"))
        + [row["plain_cpu_ms_per_ticket"]],
        ["saga"]
        + _pick(row, ("saga_per_s", "saga_acs_requests_per_ticket"))
        + [row["saga_cpu_ms_per_ticket"]],
    ]
    return _section(
        f"(7) What durability costs: a plain script vs the saga (N={row['n']})",
        "The same ACS calls for an auto-approved, unrouted ticket of one number, made by a "
        "script with `acs/` alone; CPU is the bench process's (the saga's worker runs in it). "
        f"Saga / script throughput: {row['saga_vs_plain']}.",
        ["", "tickets/s", "ACS requests per ticket", "CPU ms per ticket"],
        rows,
    )


def write_report(results: dict[str, Any], folder: Path) -> None:
    """Write REPORT.md (and the plots) into ``folder``."""
    plots = _plots(results, folder / "results")
    parts = [
        *_header(results),
        *_goals(results),
        *_saga_vs_floor(results),
        *_ingress(results),
        *_per_saga(results),
        *_lro(results),
        *_parked(results),
        *_workers(results),
        *_plain(results),
    ]
    if plots:
        parts += ["## Plots", "", *[f"![{name}](results/{name})" for name in plots], ""]
    (folder / "REPORT.md").write_text("\n".join(parts))
