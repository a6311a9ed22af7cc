"""What a lesson's Distill costs on the page, from a fresh cache, on this machine as it is and with cores kept busy
by other work; writes the ``page-lesson-time`` block of docs/hinton-mnist.md.

    python -m benchmarks.measure_page_lesson --lesson hinton-mnist --data-dir ../shared/data --busy 0 1 --docs

For each number of busy cores, a fresh ``kd-dashboard`` server (the command's own options, an empty cache folder)
is started; ``--busy N`` starts N processes that spin on a core each (as ``yes > /dev/null`` does) before it and
stops them after.  One student's page (benchmarks/streamlit_client.py, the websocket a browser uses) opens the
lesson's link, clicks Distill and waits: the time to the first report on the page (of fewer seeds, when the page
shows one first) and to the whole report, from the click.  The server is warmed up first, as a teacher opening
the page before the class does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.loadtest_server import dashboard_server
from benchmarks.streamlit_client import StreamlitClient

from .machine import cpu_model
from .readme import add_argument, publish

NAME, SCRIPT = "page-lesson-time", "benchmarks/measure_page_lesson.py"
DEADLINE_S = 3600.0


def spinners(count: int) -> list[subprocess.Popen]:
    """``count`` processes that each keep one core busy, as other work on a shared server would."""
    return [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdout=subprocess.DEVNULL) for _ in range(count)
    ]


async def distill(url: str, lesson: str) -> dict:
    """Open the lesson's link, click Distill, wait for the report: seconds from the click."""
    async with StreamlitClient(url, f"lesson={lesson}") as tab:
        opened = time.monotonic()
        await tab.load()
        page_load = time.monotonic() - opened
        clicked = time.monotonic()
        await tab.click(key="distill")
        first: list[float] = []

        def whole() -> bool:
            if tab.page.errors():
                raise RuntimeError(tab.page.errors()[0])
            if tab.page.report() is None:
                return False
            if not first:
                first.append(time.monotonic() - clicked)
            return tab.page.seeds_so_far() is None

        await tab.wait_for(whole, DEADLINE_S)
        return {
            "page_load_s": round(page_load, 1),
            "first_report_s": round(first[0], 1),
            "whole_report_s": round(time.monotonic() - clicked, 1),
            "accuracies": tab.page.report(),
        }


def measure(lesson: str, busy: int, data_dir: str | None) -> dict:
    env = {"KD_DATA_DIR": str(Path(data_dir).resolve())} if data_dir else {}
    with tempfile.TemporaryDirectory(prefix="kd-page-lesson-") as folder:
        load_before = os.getloadavg()[0]
        others = spinners(busy)
        try:
            with dashboard_server(Path(folder) / "cache", Path(folder) / "server.log", env) as server:
                asyncio.run(warm_up(server.url))
                measured = asyncio.run(distill(server.url, lesson))
        finally:
            for process in others:
                process.kill()
                process.wait()
    return {"busy_cores": busy, "load_before": round(load_before, 2), **measured}


async def warm_up(url: str) -> None:
    async with StreamlitClient(url) as tab:
        await tab.load()


def block(lesson: str, rows: list[dict]) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"`{lesson}` on the page from an empty cache, one student, {cpus} CPUs ({cpu_model()}), times from the click:",
        "",
        "| other work | first report | whole report | load average before |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        work = "none" if row["busy_cores"] == 0 else f"{row['busy_cores']} core(s) kept busy"
        first, whole = row["first_report_s"], row["whole_report_s"]
        lines.append(f"| {work} | {first:.0f} s | {whole:.0f} s | {row['load_before']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="measure_page_lesson", description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", default="hinton-mnist")
    parser.add_argument("--data-dir", help="KD_DATA_DIR for the server (the MNIST lessons need it)")
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1], help="cores kept busy, one run each")
    parser.add_argument("--json", help="also write the measurements here")
    add_argument(parser, NAME)
    args = parser.parse_args(argv)
    rows = []
    for busy in args.busy:
        rows.append(measure(args.lesson, busy, args.data_dir))
        print(rows[-1], file=sys.stderr)
    publish(block(args.lesson, rows), {"lesson": args.lesson, "runs": rows}, args.json, args.docs, NAME, SCRIPT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
