"""``python -m tests.chaos``: one chaos run with a report, for ``make chaos``.

python -m tests.chaos --seed 7 --sagas 100 --kills 10 --restarts term,kill --report out.json
python -m tests.chaos --seed 7 --limits 30,10 --report out.json   # a tight tenant budget
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from logconfig import configure_logging

from .harness import ChaosPlan, run_chaos


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--sagas", type=int, default=100)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--restarts", default="term,kill", help="comma-separated: term, kill")
    parser.add_argument("--deadline", type=float, default=420.0)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument(
        "--limits",
        default="",
        help="searches,purchases per week in the tenant, raised half way (e.g. 30,10); "
        "empty: no limits",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the processes it started
    plan = ChaosPlan(
        seed=args.seed,
        sagas=args.sagas,
        kills=args.kills,
        restarts=tuple(r for r in args.restarts.split(",") if r),
        deadline=args.deadline,
        limits=_limits(args.limits),
    )
    folder = Path(tempfile.mkdtemp(prefix="numberflow-chaos-"))
    with (folder / "ingress.log").open("a") as ingress_log:  # the in-process ingress's lines
        configure_logging("WARNING", json=True, stream=ingress_log)
        report = asyncio.run(run_chaos(plan, folder))
    report.write(args.report)
    if report.violations:  # keep the database and the worker logs to look into
        report_folder = f"  the run's database and logs are in {folder}"
    else:
        shutil.rmtree(folder, ignore_errors=True)
        report_folder = ""
    lines = [
        f"chaos seed {plan.seed}: {report.sagas} sagas in {report.seconds} s, "
        f"outcomes {report.outcomes}",
        f"  kills {report.kills}, restarts {report.restarts}, faults fired {report.faults_fired}",
        f"  {len(report.violations)} violations; report in {args.report}",
        *(f"  VIOLATION {violation}" for violation in report.violations),
        report_folder,
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if report.violations else 0


def _limits(text: str) -> tuple[int, int] | None:
    if not text:
        return None
    searches, purchases = (int(part) for part in text.split(","))
    return searches, purchases


if __name__ == "__main__":
    sys.exit(main())
