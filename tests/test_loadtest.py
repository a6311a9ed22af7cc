"""kd-loadtest: its pure parts (percentiles, the JSON, the localhost-only rule, the settings mix), the page model of
its websocket client, and one short end-to-end run against a fresh server."""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys

import numpy as np
import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks import loadtest
from benchmarks.loadtest import Measurement, StudentResult, local_url, percentile, settings_mix, summary
from benchmarks.streamlit_client import (
    FROM_CACHE_TEXT,
    REPORT_METRICS,
    STUDENT_METRIC,
    Page,
    trace_has_points,
    widget_key,
)

HEADLINE = ("students", "p50_report_s", "p95_report_s", "p95_first_response_s", "errors")


def test_percentiles_are_numpys_linear_ones():
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    rng = random.Random(0)
    for n in (2, 5, 30, 101):
        values = [rng.uniform(0, 60) for _ in range(n)]
        for q in (0, 50, 95, 100):
            assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://127.0.0.1:8501", "http://127.0.0.1:8501"),
        ("http://localhost:8600/", "http://localhost:8600"),
        ("http://example.com:8501", None),
        ("http://10.0.0.5:8501", None),
        ("https://127.0.0.1:8501", None),
        ("http://127.0.0.1.evil.com:8501", None),
        ("http://user@evil.com:8501", None),
        ("http://127.0.0.1:port", None),
        ("127.0.0.1:8501", None),
    ],
)
def test_only_this_machine_is_a_target(url, expected):
    assert local_url(url) == expected


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.loadtest", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (["--url", "http://example.com:8501"], "127.0.0.1"),
        (["--url", "http://192.168.1.10:8501"], "127.0.0.1"),
        (["--students", "0"], "--students"),
        (["--students", "many"], "--students"),
        (["--deadline", "-5"], "--deadline"),
        (["--json", "/no/such/folder/x.json"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, words):
    argv = args if "--json" in args else [*args, "--json", str(tmp_path / "out.json")]
    done = run_cli(*argv)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and words in done.stderr
    assert not (tmp_path / "out.json").exists()


def test_the_settings_mix_repeats_a_few_settings():
    mix = settings_mix(30)
    assert len(mix) == 30 and len(set(mix)) == 6
    assert all(mix.count(s) == 5 for s in set(mix))
    assert settings_mix(3) == [loadtest.Settings(t, 0) for t in loadtest.TEMPERATURES]


def test_the_json_has_the_headline_figures_and_counts_errors(tmp_path):
    done = [
        StudentResult(
            i,
            {"temperature": 4.0, "seed": 0},
            page_load_s=0.2,
            first_response_s=0.5 + i,
            first_point_s=2.0 + i,
            report_s=10.0 + i,
            accuracies={m: "90.00%" for m in REPORT_METRICS},
        )
        for i in range(4)
    ]
    late = StudentResult(
        4,
        {"temperature": 2.0, "seed": 3},
        page_load_s=0.3,
        first_response_s=1.0,
        error="not finished within the 60 s deadline",
    )
    data = summary([*done, late], Measurement(61.0, 3.0, 40.0, 1.0, 2.0), deadline_s=60, url="http://127.0.0.1:1")
    assert list(data)[:5] == list(HEADLINE)
    assert data["students"] == 5 and data["errors"] == 1
    assert data["p50_report_s"] == 11.5 and data["p95_report_s"] == pytest.approx(12.85)
    assert data["p95_first_response_s"] == pytest.approx(3.35)  # the finished students' only
    assert data["p50_first_point_s"] == 3.5 and data["p95_first_point_s"] == pytest.approx(4.85)
    assert data["settings_mix"] == {"T=4 seed=0": 4, "T=2 seed=3": 1}
    assert data["error_lines"] == ["not finished within the 60 s deadline"]
    path = tmp_path / "out.json"
    loadtest.write_json(data, str(path))
    assert json.loads(path.read_text()) == json.loads(json.dumps(data))
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # written whole, no temporary left


# ---------------------------------------------------------------- the client's page model
def delta(page: Page, path, kind: str, fragment: str = "", **fields) -> None:
    message = ForwardMsg()
    message.metadata.delta_path.extend(path)
    message.delta.fragment_id = fragment
    if kind == "block":
        message.delta.add_block.SetInParent()
    else:
        getattr(message.delta.new_element, kind).SetInParent()
        for name, value in fields.items():
            setattr(getattr(message.delta.new_element, kind), name, value)
    page.apply_delta(tuple(path), message.delta)


def test_the_page_finds_the_report_the_queue_a_live_point_and_the_cache_note():
    page = Page(run_id="run1")
    delta(page, [1, 0], "button", id="$$ID-abc-distill", label="Distill")
    assert widget_key("$$ID-abc-distill") == "distill" and page.widget(label="Distill").id == "$$ID-abc-distill"
    delta(
        page,
        [0, 1, 0],
        "alert",
        "frag",
        body="Distillation is waiting for a free trainer: position 3 in the queue (at most 2 …)",
    )
    assert page.queue_position() == 3 and page.report() is None and not page.live_point()
    assert page.job_status() is None
    delta(page, [0, 1, 2], "progress", "frag", value=0, text="Distillation running: teacher 0 % — about 40 s left")
    assert page.job_status().startswith("Distillation running") and not page.live_point()
    empty = json.dumps({"data": [{"x": [], "y": []}]})
    delta(page, [0, 1, 1], "plotly_chart", "frag", id="$$ID-x-loss_chart", spec=empty)
    assert not page.live_point()
    typed = {"dtype": "f8", "bdata": base64.b64encode(np.array([0.5]).tobytes()).decode()}
    delta(
        page,
        [0, 1, 1],
        "plotly_chart",
        "frag",
        id="$$ID-x-loss_chart",
        spec=json.dumps({"data": [{"x": typed, "y": typed}]}),
    )
    assert page.live_point() and trace_has_points({"y": [1.0]}) and not trace_has_points({"y": {"bdata": ""}})
    for i, label in enumerate(REPORT_METRICS):
        delta(page, [0, 2, i], "metric", label=label, body=f"9{i}.00%")
    delta(page, [0, 3], "markdown", body=f"Settings of this run: … — {FROM_CACHE_TEXT}: these exact settings …")
    assert page.report()[STUDENT_METRIC] == "91.00%" and page.from_cache()


def test_a_finished_run_drops_what_it_did_not_draw_as_the_browser_does():
    page = Page(run_id="full1")
    delta(page, [0, 0], "markdown", body="kept")
    delta(page, [0, 1, 0], "alert", "frag", body="position 1 in the queue")
    page.run_id, page.run_fragments = "frag1", ("frag",)  # a fragment run redraws only its own part
    delta(page, [0, 1, 1], "progress", "frag")
    page.finish_run(fragment_run=True)
    assert set(page.nodes) == {(0, 0), (0, 1, 1)}
    page.run_id, page.run_fragments = "full2", ()
    delta(page, [0, 0], "markdown", body="again")
    page.finish_run(fragment_run=False)
    assert set(page.nodes) == {(0, 0)}
    delta(page, [0, 0], "block")  # an element that becomes a block loses nothing else; a block's children go with it
    delta(page, [0, 0, 0], "markdown", body="child")
    delta(page, [0, 0], "markdown", body="flat again")
    assert set(page.nodes) == {(0, 0)}


# ---------------------------------------------------------------- end to end
@pytest.mark.slow
def test_three_students_against_a_fresh_server(tmp_path):
    out = tmp_path / "loadtest.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.loadtest",
            "--students",
            "3",
            "--deadline",
            "150",
            "--ramp",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    assert data["students"] == 3 and data["errors"] == 0, data["error_lines"]
    assert data["p50_report_s"] <= data["p95_report_s"] <= 150 and data["p95_first_response_s"] <= data["p95_report_s"]
    for student in data["per_student"]:
        assert set(student["accuracies"]) == set(REPORT_METRICS) and student["fragment_runs"] >= 0
    assert "3 students, 0 errors" in done.stdout


# ---------------------------------------------------------------- the client against a real browser
@pytest.mark.browser
@pytest.mark.slow
def test_the_client_sends_and_sees_what_a_browser_does(tmp_path):
    """A browser distills first (it trains, and its live view polls); the client then asks for the same settings on
    the same server, and then for another seed.  The click is the same trigger on the same widget id, both pages
    show the same report, and the browser polled the fragments the client was told to poll, at their interval."""
    import asyncio
    import time

    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from benchmarks.streamlit_client import DISTILL_LABEL, StreamlitClient
    from dashboard.page.job_panel import POLL_SECONDS
    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, own_dashboard, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    sent: list[tuple[float, bytes]] = []
    received: list[bytes] = []
    with own_dashboard(tmp_path) as server:  # its own, with an empty cache: the browser's Distill must train
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1200})

                def watch(ws) -> None:
                    ws.on("framesent", lambda data: sent.append((time.monotonic(), data)))
                    ws.on("framereceived", lambda data: received.append(data))

                page.on("websocket", watch)
                page.goto(server.url, timeout=120_000)
                button = page.get_by_test_id("stSidebar").get_by_role("button", name=DISTILL_LABEL, exact=True)
                button.wait_for(timeout=120_000)
                button.click()
                # the whole report (its agreement): a first report of fewer seeds may come before it
                page.get_by_test_id("stMetric").filter(has_text="Student–teacher agreement").first.wait_for(
                    timeout=240_000
                )
                shown = {}
                for metric in page.get_by_test_id("stMetric").all():
                    label = metric.get_by_test_id("stMetricLabel").inner_text().strip()
                    shown[label] = metric.get_by_test_id("stMetricValue").inner_text().strip()
            finally:
                browser.close()

        async def client() -> tuple[dict, str, dict[str, float]]:
            async with StreamlitClient(server.url) as tab:
                await tab.load()
                trigger = tab.page.widget(
                    key="distill", kind="button"
                ).id  # the sidebar's: the one a desktop browser shows
                await tab.click(key="distill")  # the browser's settings: served from the cache
                # the report is drawn by a full run: let it finish (it may have, in the messages that drew it)
                await tab.wait_for(lambda: tab.page.report() and not tab.full_run_running, 120)
                report = tab.page.metrics()
                await tab.set_slider("seed", 1)  # new settings, so this tab trains and polls too
                await tab.click(key="distill")
                # Until its view polls at the running interval (a job waiting for a trainer polls slower).
                await tab.wait_for(
                    lambda: (
                        tab.page.live_point()
                        and any(POLL_SECONDS in intervals for intervals in tab.poll_intervals.values())
                    ),
                    240,
                )
                return report, trigger, dict(tab.poll_intervals)

        seen, trigger, polled = asyncio.run(client())

    reruns = [
        (t, message.rerun_script)
        for t, data in sent
        if isinstance(data, bytes)
        for message in [BackMsg.FromString(data)]
        if message.WhichOneof("type") == "rerun_script"
    ]
    clicks = [r for _, r in reruns if any(w.trigger_value for w in r.widget_states.widgets)]
    assert [w.id for w in clicks[0].widget_states.widgets if w.trigger_value] == [trigger]
    polls = [(t, r.fragment_id) for t, r in reruns if r.fragment_id and r.is_auto_rerun]
    assert len(polls) >= 3, "the browser's live view never polled"
    # The browser polls each fragment at the interval the server told it, and the client honours the same intervals.
    # (A fragment's id and interval depend on what the page shows: a waiting job's view polls slower.)
    told: dict[str, set[float]] = {}
    for data in received:
        if isinstance(data, bytes):
            message = ForwardMsg.FromString(data)
            if message.WhichOneof("type") == "auto_rerun":
                told.setdefault(message.auto_rerun.fragment_id, set()).add(message.auto_rerun.interval)
    assert {fragment for _, fragment in polls} <= set(told)
    for fragment, intervals in told.items():
        times = [t for t, f in polls if f == fragment]
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        assert not gaps or any(abs(gaps[len(gaps) // 2] - i) < 0.25 for i in intervals), (fragment, intervals, gaps)
    assert set().union(*told.values()) <= set().union(*polled.values())  # the client was told (and polled) them too
    assert {label: seen[label] for label in REPORT_METRICS} == {label: shown[label] for label in REPORT_METRICS}
    # The client's page holds no metric the browser's lacks, and the report's values are the same (timings aside:
    # a run served from the cache shows no latencies; the browser's run, trained, does).
    assert set(seen) <= set(shown)
    same = [
        *REPORT_METRICS,
        "KD − baseline",
        "Student–teacher agreement",
        "Baseline–teacher agreement",
        "Parameters: teacher / student",
        "Size ratio",
    ]
    assert {k: seen[k] for k in same} == {k: shown[k] for k in same}
