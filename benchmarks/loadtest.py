"""kd-loadtest: a classroom against one dashboard server, each student a light websocket client.

    kd-loadtest --students 30 --json loadtest.json              # a fresh server, its own empty cache folder
    kd-loadtest --students 5 --url http://127.0.0.1:8501 --json out.json   # a server already running here

Each simulated student (benchmarks/streamlit_client.py) opens the page, moves the sliders its settings need,
clicks Distill and waits for the report.  Settings repeat on purpose (a few temperatures × a few seeds), as in
a class where neighbours pick the same values.  Times are from the click: the first response is the first sign
on the page that the click was taken — the job's status line with its progress and ETA, a queue position, a live
point, or the report itself (a run from the results cache); the first point is the first point on the live
charts (or the report), the first result of the training itself; the report
is the first time the accuracies are on the page — a whole report, or a first report of fewer seeds that says so
("3 of 8 seeds so far", dashboard/runs/seeds.py) — and the whole report the time every seed is in it.  After
``--deadline`` seconds every student without a whole report is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

from benchmarks.loadtest_server import SERVER_START_SECONDS, DashboardServer, cpu_seconds, dashboard_server
from benchmarks.streamlit_client import DISTILL_LABEL, StreamlitClient
from kd_core.files import one_line

EXIT_ERRORS, EXIT_USAGE = 1, 2
LOCAL_HOSTS = ("127.0.0.1", "localhost")
# The settings the students pick, by slider key: student i takes TEMPERATURES[i % 3] and SEEDS[(i // 3) % 2],
# so with 30 students six settings appear five times each.  4.0 and 0 are the opening lesson's own values.
TEMPERATURES = (4.0, 2.0, 8.0)
SEEDS = (0, 3)
PAGE_SECONDS = 120.0  # one page load or slider rerun; longer means the server is stuck


@dataclass(frozen=True)
class Settings:
    temperature: float
    seed: int

    def label(self) -> str:
        return f"T={self.temperature:g} seed={self.seed}"


@dataclass
class StudentResult:
    index: int
    settings: dict
    page_load_s: float | None = None  # connect to the first script run's end
    first_response_s: float | None = None  # from the click: its status line, a queue position, a point or the report
    first_point_s: float | None = None  # from the click: the first point on the live charts (or the report)
    report_s: float | None = None  # from the click: the first report on the page (whole, or of fewer seeds)
    whole_report_s: float | None = None  # from the click: the report of every seed
    first_report_seeds: list[int] | None = None  # [seeds in it, seeds asked for] when the first report had fewer
    queue_position: int | None = None  # the first one shown, if any
    from_cache: bool = False
    accuracies: dict | None = None
    full_runs: int = 0  # script runs this tab saw finish (page load, sliders, click, report)
    fragment_runs: int = 0  # the live view's polling reruns it saw finish
    error: str | None = None


@dataclass(frozen=True)
class Measurement:
    """What the classroom cost the machine, beside the students' times."""

    wall_s: float
    warmup_s: float | None
    server_cpu_s: float | None  # the server process's own CPU time during the class (worker processes not included)
    load_before: float  # the 1-minute load average: other work on the machine slows everything
    load_after: float


def settings_mix(students: int) -> list[Settings]:
    return [
        Settings(TEMPERATURES[i % len(TEMPERATURES)], SEEDS[(i // len(TEMPERATURES)) % len(SEEDS)])
        for i in range(students)
    ]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between the closest ranks (numpy's default); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def local_url(url: str) -> str | None:
    """The URL without a trailing slash if it names this machine (127.0.0.1 or localhost) over http, else None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS:
        return None
    return url.rstrip("/")


def summary(results: list[StudentResult], measured: Measurement, *, deadline_s: float, url: str) -> dict:
    """The JSON the load test writes: the headline figures first, then what explains them."""
    finished = [r for r in results if r.error is None]
    reports = [r.report_s for r in finished]
    firsts = [r.first_response_s for r in finished if r.first_response_s is not None]
    points = [r.first_point_s for r in finished if r.first_point_s is not None]
    mix: dict[str, int] = {}
    for r in results:
        label = Settings(**r.settings).label()
        mix[label] = mix.get(label, 0) + 1
    rounded = lambda v: None if v is None else round(v, 3)  # noqa: E731
    return {
        "students": len(results),
        "p50_report_s": rounded(percentile(reports, 50)),
        "p95_report_s": rounded(percentile(reports, 95)),
        "p95_first_response_s": rounded(percentile(firsts, 95)),
        "errors": len(results) - len(finished),
        "max_report_s": rounded(max(reports, default=None)),
        "p50_first_response_s": rounded(percentile(firsts, 50)),
        "p50_first_point_s": rounded(percentile(points, 50)),
        "p95_first_point_s": rounded(percentile(points, 95)),
        "p95_page_load_s": rounded(percentile([r.page_load_s for r in results if r.page_load_s is not None], 95)),
        "p50_whole_report_s": rounded(percentile([r.whole_report_s for r in finished if r.whole_report_s], 50)),
        "p95_whole_report_s": rounded(percentile([r.whole_report_s for r in finished if r.whole_report_s], 95)),
        "first_reports_of_fewer_seeds": sum(r.first_report_seeds is not None for r in finished),
        "from_cache": sum(r.from_cache for r in finished),
        "queued": sum(r.queue_position is not None for r in results),
        "settings_mix": mix,
        "server_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "deadline_s": deadline_s,
        "wall_s": round(measured.wall_s, 3),
        "warmup_page_load_s": rounded(measured.warmup_s),
        "server_process_cpu_s": rounded(measured.server_cpu_s),
        "full_reruns": sum(r.full_runs for r in results),
        "fragment_reruns": sum(r.fragment_runs for r in results),
        "load_average_before": round(measured.load_before, 2),
        "load_average_after": round(measured.load_after, 2),
        "url": url,
        "per_student": [asdict(r) for r in results],
        "error_lines": sorted({r.error for r in results if r.error}),
    }


# ---------------------------------------------------------------- one student
async def student(index: int, settings: Settings, url: str, start_at: float, result: StudentResult) -> None:
    """Open the page, set the sliders, click Distill, watch until the report; fills ``result`` as it goes."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    opened = time.monotonic()
    async with StreamlitClient(url) as tab:
        try:
            await watch(tab, settings, opened, result)
        finally:
            result.full_runs, result.fragment_runs = tab.full_runs_finished, tab.fragment_runs_finished


async def watch(tab: StreamlitClient, settings: Settings, opened: float, result: StudentResult) -> None:
    """One student's page, from the first load to the report."""
    await tab.load(PAGE_SECONDS)
    result.page_load_s = time.monotonic() - opened
    for key, value in (("temperature", settings.temperature), ("seed", settings.seed)):
        slider = tab.page.widget(key=key, kind="slider")
        if slider is not None and list(slider.value) != [float(value)]:  # only what differs, as a student would
            await tab.set_slider(key, value, PAGE_SECONDS)
    page = tab.page
    clicked = time.monotonic()
    await tab.click(DISTILL_LABEL, key="distill")  # the sidebar's, as a desktop browser shows it

    def progress() -> bool:
        position = page.queue_position()
        if position is not None and result.queue_position is None:
            result.queue_position = position
        point = page.live_point() or page.report() is not None
        if result.first_response_s is None and (position is not None or page.job_status() or point):
            result.first_response_s = time.monotonic() - clicked
        if result.first_point_s is None and point:
            result.first_point_s = time.monotonic() - clicked
        if page.errors():
            raise RuntimeError(page.errors()[0])
        if page.report() is None:  # a fresh tab shows no earlier report
            return False
        so_far = page.seeds_so_far()
        if result.report_s is None:
            result.report_s = time.monotonic() - clicked
            result.first_report_seeds = None if so_far is None else list(so_far)
        return so_far is None

    await tab.wait_for(progress, math.inf)
    result.whole_report_s = time.monotonic() - clicked
    result.accuracies, result.from_cache = page.report(), page.from_cache()


async def classroom(url: str, mix: list[Settings], deadline_s: float, ramp_s: float) -> list[StudentResult]:
    results = [StudentResult(i, asdict(s)) for i, s in enumerate(mix)]
    start = time.monotonic()
    tasks = [
        asyncio.create_task(student(i, s, url, start + ramp_s * i / max(1, len(mix)), results[i]))
        for i, s in enumerate(mix)
    ]
    done, pending = await asyncio.wait(tasks, timeout=deadline_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task, result in zip(tasks, results):
        if task in pending:
            result.error = f"not finished within the {deadline_s:g} s deadline"
        elif task.exception() is not None:
            error = task.exception()
            result.error = f"{type(error).__name__}: {error}".splitlines()[0]
    return results


async def warm_up(url: str) -> float:
    """The teacher opens the page before the class does: the server's first script run imports torch."""
    opened = time.monotonic()
    async with StreamlitClient(url) as tab:
        await tab.load(SERVER_START_SECONDS)
    return time.monotonic() - opened


# ---------------------------------------------------------------- the command
class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line and exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = OneLineParser(prog="kd-loadtest", description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30, help="simulated students (default 30)")
    parser.add_argument("--json", required=True, help="where to write the figures")
    parser.add_argument("--url", help="a dashboard already running on 127.0.0.1/localhost (default: start a fresh one)")
    parser.add_argument(
        "--deadline", type=float, default=180.0, help="seconds after which unfinished students are errors"
    )
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds over which the students arrive (default 5)")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error(f"--students must be at least 1, not {args.students}")
    if not (args.deadline > 0 and math.isfinite(args.deadline)) or not (0 <= args.ramp < math.inf):
        parser.error("--deadline must be a positive number of seconds and --ramp zero or more")
    if args.url is not None:
        url = local_url(args.url)
        if url is None:
            parser.error(
                "--url must be http://127.0.0.1:PORT or http://localhost:PORT (a load test stays on this machine), "
                f"not {args.url!r}"
            )
        args.url = url
    if not Path(args.json).expanduser().resolve().parent.is_dir():
        parser.error(f"--json: the folder of {args.json!r} does not exist")
    return args


def run(args: argparse.Namespace, server: DashboardServer) -> dict:
    async def both() -> tuple[list[StudentResult], Measurement]:
        warmup = await warm_up(server.url)
        load_before, cpu_before, started = os.getloadavg()[0], cpu_seconds(server.pid), time.monotonic()
        results = await classroom(server.url, settings_mix(args.students), args.deadline, args.ramp)
        wall, cpu_after = time.monotonic() - started, cpu_seconds(server.pid)
        cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        return results, Measurement(wall, warmup, cpu, load_before, os.getloadavg()[0])

    results, measured = asyncio.run(both())
    return summary(results, measured, deadline_s=args.deadline, url=server.url)


def write_json(data: dict, path: str) -> None:
    target = Path(path).expanduser().resolve()
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, target)  # whole or not at all


def interrupted(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    # A SIGTERM (timeout, make interrupted) unwinds like Ctrl-C, so the server we started is stopped with us.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        if args.url is not None:
            data = run(args, DashboardServer(args.url, None))
        else:
            folder = Path(tempfile.mkdtemp(prefix="kd-loadtest-"))
            try:
                with dashboard_server(folder / "cache", folder / "server.log") as server:
                    data = run(args, server)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    except KeyboardInterrupt:
        return 130
    except (RuntimeError, OSError, TimeoutError) as error:  # no server, or the warm-up page never loaded
        print(f"kd-loadtest: {one_line(error)}", file=sys.stderr)
        return EXIT_ERRORS
    write_json(data, args.json)
    reports = [r["report_s"] for r in data["per_student"] if r["report_s"] is not None]
    fewer = data["first_reports_of_fewer_seeds"]
    print(
        f"{data['students']} students, {data['errors']} errors: report p50 {data['p50_report_s']} s, "
        f"p95 {data['p95_report_s']} s, first response p95 {data['p95_first_response_s']} s, "
        f"first point p95 {data['p95_first_point_s']} s "
        f"({len(reports)} reports, {data['from_cache']} from the cache, {data['server_cpus']} CPUs)"
        + (f"; {fewer} first reports of fewer seeds, whole report p95 {data['p95_whole_report_s']} s" if fewer else "")
    )
    return EXIT_ERRORS if data["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
