"""A light Streamlit client: what one browser tab sends and keeps, spoken over the websocket without a browser.

Thirty Chromium pages would swamp two cores, so a simulated student is this instead: it connects to
``/_stcore/stream``, asks for a script run (``BackMsg.rerun_script``), keeps the page as the browser does (every
delta by its path, stale elements dropped when a run finishes), sets widgets by their key, clicks a button by
its label (a trigger value, sent once), and honours ``auto_rerun``: a fragment with ``run_every`` is rerun at that
interval, with ``is_auto_rerun`` and the widget states, until a full run or ``stop_auto_rerun`` ends it — the
browser's own rule.  The page markers the load test relies on are named here, in one place.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

# ---------------------------------------------------------------- the page's markers (dashboard/ draws them)
DISTILL_LABEL = "Distill"  # the sidebar's primary button (dashboard/tabs/distill.py)
# The report's metrics (dashboard/report/summary.py): the report is on the page once these hold values.
TEACHER_METRIC, STUDENT_METRIC, BASELINE_METRIC = "Teacher accuracy", "KD student accuracy", "Scratch baseline accuracy"
REPORT_METRICS = (TEACHER_METRIC, STUDENT_METRIC, BASELINE_METRIC)
# The report's caption when every seed came from the results cache.
FROM_CACHE_TEXT = "served from the results cache"
# A first report of fewer seeds than asked for says so (dashboard/runs/seeds.py SeedsOutcome.so_far_line):
# "3 of 8 seeds so far — the rest are training; ...".  The report is whole when no such line is on the page.
SO_FAR_PATTERN = re.compile(r"(\d+) of (\d+) seeds so far")
# The job panel's queue line (dashboard/page/job_panel.py): "... position 3 in the queue ...", or, for a run a classmate
# is already training, the waiting line (dashboard/runs/distill.py SAME_RUN): "... position 0 in the queue: it needs no
# trainer ...".
QUEUE_PATTERN = re.compile(r"position (\d+) in the queue")
# The live charts' widget keys (dashboard/tabs/distill.py); a live point is a trace with at least one point.
LIVE_CHART_KEYS = ("loss_chart", "accuracy_chart")
ALERT_ERROR = 1  # Alert.Format.ERROR: st.error (a failed job, an invalid setting)

STREAM_PATH = "/_stcore/stream"
FULL_RUN_FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY
FRAGMENT_RUN_FINISHED = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY


@dataclass
class Node:
    """One element (or block) of the page: its proto, and the run and fragment that last wrote it."""

    kind: str  # "block" or the element's type ("button", "metric", "plotly_chart", ...)
    proto: object
    run_id: str
    fragment_id: str


def widget_key(element_id: str) -> str:
    """A widget's user key from its id (``$$ID-<hash>-<key>``), "" without one."""
    parts = element_id.split("-", 2)
    return parts[2] if element_id.startswith("$$ID-") and len(parts) == 3 else ""


def trace_has_points(trace: dict) -> bool:
    """Whether a Plotly trace holds data: a plain list, or plotly's typed array ``{"dtype", "bdata"}``."""
    for axis in ("y", "x"):
        data = trace.get(axis)
        if isinstance(data, dict) and data.get("bdata"):
            return len(base64.b64decode(data["bdata"])) > 0
        if isinstance(data, (list, tuple)) and len(data) > 0:
            return True
    return False


@dataclass
class Page:
    """The page as the browser holds it: nodes by delta path, the current run, the fragments polling."""

    nodes: dict[tuple[int, ...], Node] = field(default_factory=dict)
    run_id: str = ""
    run_fragments: tuple[str, ...] = ()

    def apply_delta(self, path: tuple[int, ...], delta) -> None:
        which = delta.WhichOneof("type")
        if which == "new_element":
            kind = delta.new_element.WhichOneof("type")
            proto = getattr(delta.new_element, kind)
        elif which == "add_block":
            kind, proto = "block", delta.add_block
        else:
            return  # transient elements (spinners) come and go; nothing to keep
        old = self.nodes.get(path)
        if old is not None and (old.kind == "block") != (kind == "block"):
            self._drop_below(path)  # a block became an element (or back): its children are gone
        self.nodes[path] = Node(kind, proto, self.run_id, delta.fragment_id)

    def _drop_below(self, path: tuple[int, ...]) -> None:
        for other in [p for p in self.nodes if len(p) > len(path) and p[: len(path)] == path]:
            del self.nodes[other]

    def finish_run(self, fragment_run: bool) -> None:
        """What the browser clears when a run ends: everything the run did not write (a full run), or whatever
        inside this run's fragments it did not rewrite (a fragment run)."""
        stale = [
            path
            for path, node in self.nodes.items()
            if node.run_id != self.run_id and (not fragment_run or node.fragment_id in self.run_fragments)
        ]
        for path in stale:
            self.nodes.pop(path, None)

    # ---------------------------------------------------------------- reading the page
    def elements(self, kind: str) -> list:
        return [node.proto for _, node in sorted(self.nodes.items()) if node.kind == kind]

    def widget(self, *, key: str = "", label: str = "", kind: str = ""):
        for _, node in sorted(self.nodes.items()):
            proto = node.proto
            if node.kind == "block" or (kind and node.kind != kind) or not getattr(proto, "id", ""):
                continue
            if (key and widget_key(proto.id) == key) or (label and getattr(proto, "label", None) == label):
                return proto
        return None

    def metrics(self) -> dict[str, str]:
        return {m.label: m.body for m in self.elements("metric")}

    def report(self) -> dict[str, str] | None:
        """The report's accuracies (strings as shown, e.g. "87.29%"), or None while they are not all shown."""
        shown = self.metrics()
        return {label: shown[label] for label in REPORT_METRICS} if all(shown.get(m) for m in REPORT_METRICS) else None

    def texts(self) -> list[str]:
        return [proto.body for kind in ("markdown", "alert") for proto in self.elements(kind)]

    def from_cache(self) -> bool:
        return any(FROM_CACHE_TEXT in text for text in self.texts())

    def seeds_so_far(self) -> tuple[int, int] | None:
        """(seeds in the report, seeds asked for) while the report on the page is a first report of fewer; None
        for a whole report (or none)."""
        for text in self.texts():
            found = SO_FAR_PATTERN.search(text)
            if found:
                return int(found.group(1)), int(found.group(2))
        return None

    def queue_position(self) -> int | None:
        for text in self.texts():
            found = QUEUE_PATTERN.search(text)
            if found:
                return int(found.group(1))
        return None

    def job_status(self) -> str | None:
        """The text of the job panel's progress bar ("Distillation running: … — about 40 s left",
        dashboard/page/job_panel.py ``status_line``): what a student sees as soon as a click started a training;
        None while there is none."""
        for bar in self.elements("progress"):
            if bar.text:
                return bar.text
        return None

    def live_point(self) -> bool:
        for chart in self.elements("plotly_chart"):
            if widget_key(chart.id) in LIVE_CHART_KEYS and chart.spec:
                if any(trace_has_points(t) for t in json.loads(chart.spec).get("data", [])):
                    return True
        return False

    def errors(self) -> list[str]:
        shown = [a.body for a in self.elements("alert") if a.format == ALERT_ERROR]
        return shown + [f"{e.type}: {e.message}" for e in self.elements("exception")]


class StreamlitClient:
    """One browser tab's session over the websocket.  Use as ``async with StreamlitClient(url) as tab:``."""

    def __init__(self, url: str, query_string: str = "") -> None:
        self.ws_url = url.replace("http://", "ws://", 1).rstrip("/") + STREAM_PATH
        self.query_string = query_string
        self.page = Page()
        self.states: dict[str, WidgetState] = {}  # widget id -> the value this tab set (as the browser's manager)
        self.changed = asyncio.Event()  # set whenever a message changed the page
        self.full_runs_finished = 0
        self.full_run_running = False  # between a full run's start and its end: its page may still be drawing
        self.fragment_runs_finished = 0
        self.messages = 0
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}  # fragment id -> (interval, its rerun loop)
        self.auto_reruns: dict[str, float] = {}  # every fragment the server asked this tab to poll -> its interval
        self.poll_intervals: dict[
            str, set[float]
        ] = {}  # every interval each fragment was polled at (a waiting job polls slower)
        self.closed_reason: str | None = None

    async def __aenter__(self) -> StreamlitClient:
        # The browser names the "streamlit" subprotocol; max_size=None: a page's first messages can be large.
        self._ws = await connect(self.ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=30)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc) -> None:
        self._stop_timers(list(self._timers))
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()

    # ---------------------------------------------------------------- sending
    async def rerun(self, *, trigger_id: str = "", fragment_id: str = "", auto: bool = False) -> None:
        message = BackMsg()
        rerun = message.rerun_script
        rerun.query_string = self.query_string
        for state in self.states.values():
            rerun.widget_states.widgets.add().CopyFrom(state)
        if trigger_id:  # a button's click: true in this one message only, as the browser sends it
            rerun.widget_states.widgets.add(id=trigger_id, trigger_value=True)
        rerun.fragment_id = fragment_id
        rerun.is_auto_rerun = auto
        await self._ws.send(message.SerializeToString())

    async def load(self, timeout: float = 120.0) -> None:
        """Open the page: the first script run, as a browser's first connection asks for it."""
        await self.rerun()
        await self.wait_for(lambda: self.full_runs_finished >= 1, timeout)

    async def set_slider(self, key: str, value: float, timeout: float = 60.0) -> None:
        """Move the slider whose key is ``key`` to ``value`` and wait for the rerun it causes to finish."""
        slider = await self.wait_for(lambda: self.page.widget(key=key, kind="slider"), timeout)
        self.states[slider.id] = WidgetState(id=slider.id, double_array_value={"data": [float(value)]})
        finished = self.full_runs_finished
        await self.rerun()
        await self.wait_for(lambda: self.full_runs_finished > finished, timeout)

    async def click(self, label: str = "", timeout: float = 60.0, *, key: str = "") -> None:
        """Click the enabled button with user key ``key``, or else the first labelled ``label`` (the page can have two
        Distill buttons: the sidebar's, key "distill", and the main page's for a folded sidebar)."""
        button = await self.wait_for(
            lambda: (
                (b := self.page.widget(key=key, label="" if key else label, kind="button")) and not b.disabled and b
            ),
            timeout,
        )
        await self.rerun(trigger_id=button.id)

    async def wait_for(self, predicate, timeout: float):
        """Wait until ``predicate()`` is truthy (checked after every message), return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if self.closed_reason is not None:
                raise ConnectionError(self.closed_reason)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"nothing on the page matched within {timeout:g} s")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    # ---------------------------------------------------------------- receiving
    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                message = ForwardMsg()
                message.ParseFromString(raw)
                self.messages += 1
                self._handle(message)
                self.changed.set()
        except Exception as error:  # a closed or broken connection ends this tab; waiters see why
            self.closed_reason = f"connection lost: {type(error).__name__}: {error}"
        else:
            self.closed_reason = "the server closed the connection"
        self.changed.set()

    def _handle(self, message: ForwardMsg) -> None:
        which = message.WhichOneof("type")
        if which == "new_session":
            run = message.metadata.run
            self.page.run_id, self.page.run_fragments = run.script_run_id, tuple(run.fragment_ids)
            if not run.fragment_ids:
                self.full_run_running = True
                self._stop_timers(list(self._timers))  # a full run: the browser drops every auto-rerun timer
        elif which == "delta":
            self.page.apply_delta(tuple(message.metadata.delta_path), message.delta)
        elif which == "script_finished":
            if message.script_finished == FULL_RUN_FINISHED:
                self.page.finish_run(fragment_run=False)
                self.full_runs_finished += 1
            elif message.script_finished == FRAGMENT_RUN_FINISHED:
                self.page.finish_run(fragment_run=True)
                self.fragment_runs_finished += 1
            if message.script_finished != FRAGMENT_RUN_FINISHED:  # ended, or stopped for a rerun that starts anew
                self.full_run_running = False
        elif which == "auto_rerun":
            self.auto_reruns[message.auto_rerun.fragment_id] = message.auto_rerun.interval
            self.poll_intervals.setdefault(message.auto_rerun.fragment_id, set()).add(message.auto_rerun.interval)
            self._start_timer(message.auto_rerun.fragment_id, message.auto_rerun.interval)
        elif which == "stop_auto_rerun":
            self._stop_timers(list(message.stop_auto_rerun.fragment_ids))

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        if not fragment_id or self._timers.get(fragment_id, (None,))[0] == interval:
            return  # the browser keeps a running timer with the same interval
        self._stop_timers([fragment_id])
        self._timers[fragment_id] = (interval, asyncio.create_task(self._every(fragment_id, interval)))

    async def _every(self, fragment_id: str, interval: float) -> None:
        while True:  # like setInterval: fires on time whether or not the last rerun has finished
            await asyncio.sleep(interval)
            await self.rerun(fragment_id=fragment_id, auto=True)

    def _stop_timers(self, fragment_ids: list[str]) -> None:
        for fragment_id in fragment_ids:
            entry = self._timers.pop(fragment_id, None)
            if entry is not None:
                entry[1].cancel()
