"""One record per browser, kept on the server, so a reload (or the same link in a second tab) finds its run again.

Streamlit's session state dies with the page: a reload starts an empty session, and a run that was training
would be lost from view (its charts, its report, the History tab).  So what a student's runs leave behind —
the background jobs, the history rows, the last outcome and which jobs were already collected — lives in a
``BrowserRecord`` here, keyed by a random browser id that the page stores in a cookie.  The record's fields
are also put into ``st.session_state`` under the keys the page reads (the same objects), so code and tests that read
``st.session_state["jobs"]`` see the record.

Bounded: a record unused for ``EXPIRE_SECONDS`` is dropped, and beyond ``MAX_RECORDS`` the least recently
used goes first; a dropped record's jobs are stopped (nobody can see them any more) and the browser's uploads
deleted (``Registry.on_drop``: dashboard.page.uploads.STORE.forget).  The id only ever lives
in the cookie, never in a link: a shared link gives the settings, not someone's runs.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from dashboard.page import uploads

COOKIE = "kd_browser"
EXPIRE_SECONDS = 4 * 3600  # a morning's or an afternoon's class; a record holds its last report's models and logits
COOKIE_SECONDS = 30 * 24 * 3600  # the id outlives its record: an expired record simply starts empty
MAX_RECORDS = 200  # several classes at once; beyond it the least recently used browser's record goes
_ID = re.compile(r"[0-9a-f]{32}")
state = st.session_state


@dataclass(eq=False)
class BrowserRecord:
    id: str
    jobs: dict = field(default_factory=dict)  # job name -> dashboard.jobs.runner.Job
    history: list = field(default_factory=list)  # one row per Distill (dashboard/tabs/history.py)
    collected_jobs: dict = field(default_factory=dict)  # job name -> id of the job whose outputs were kept
    seeds_outcome: Any = None  # the last completed Distill (a seed_runs.SeedsOutcome)
    outcome: Any = None  # its first seed (the probability bars use its models)
    last_used: float = field(default_factory=time.monotonic)

    def stop_jobs(self) -> None:
        for job in list(self.jobs.values()):
            if not job.done:
                job.stop()


class Registry:
    """Browser id -> BrowserRecord, least recently used first; safe to use from every session's thread.
    ``on_drop(browser_id)`` is called for every record dropped (after its jobs are stopped)."""

    def __init__(
        self,
        max_records: int = MAX_RECORDS,
        expire_seconds: float = EXPIRE_SECONDS,
        on_drop: Callable[[str], None] | None = None,
    ) -> None:
        self.max_records, self.expire_seconds, self.on_drop = max_records, expire_seconds, on_drop
        self.records: OrderedDict[str, BrowserRecord] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, browser_id: str, now: float | None = None) -> BrowserRecord:
        """The browser's record (a new one if it has none, or it expired), marked as used now."""
        now = time.monotonic() if now is None else now
        dropped = []
        with self.lock:
            record = self.records.pop(browser_id, None)
            if record is None or now - record.last_used > self.expire_seconds:
                if record is not None:
                    dropped.append(record)
                record = BrowserRecord(browser_id)
            record.last_used = now
            self.records[browser_id] = record  # to the end: the most recently used
            while self.records:
                oldest = next(iter(self.records.values()))
                if now - oldest.last_used <= self.expire_seconds and len(self.records) <= self.max_records:
                    break
                dropped.append(self.records.popitem(last=False)[1])
        for gone in dropped:  # outside the lock: stopping a job wakes the scheduler
            gone.stop_jobs()
            if self.on_drop is not None:
                self.on_drop(gone.id)
        return record

    def __len__(self) -> int:
        with self.lock:
            return len(self.records)

    def __contains__(self, browser_id: str) -> bool:
        with self.lock:
            return browser_id in self.records


registry = Registry(on_drop=uploads.STORE.forget)  # an expired browser's uploads go with its record


def new_id() -> str:
    return secrets.token_hex(16)


def _cookie_id() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no browser behind this run (AppTest, a bare script)
        return None
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def browser_id() -> str:
    """This browser's id: the session's, else the cookie's (a reload, a second tab), else a new one."""
    if "browser_id" not in state:
        cookie = _cookie_id()
        state["browser_id"] = cookie or new_id()
        state["browser_cookie_sent"] = cookie is not None
    return state["browser_id"]


def current() -> BrowserRecord:
    """This browser's record, its fields mirrored into st.session_state."""
    record = registry.get(browser_id())
    for name in ("jobs", "history", "collected_jobs"):  # containers: the same object, so a change shows in both
        if state.get(name) is not getattr(record, name):
            state[name] = getattr(record, name)
    for name in ("seeds_outcome", "outcome"):
        if record.seeds_outcome is not None and state.get(name) is not getattr(record, name):
            state[name] = getattr(record, name)
    return record


def keep_outcome(seeds_outcome: Any, outcome: Any) -> None:
    """The last completed Distill, for this session and a later reload."""
    record = current()
    record.seeds_outcome, record.outcome = seeds_outcome, outcome
    state["seeds_outcome"], state["outcome"] = seeds_outcome, outcome


def send_cookie() -> None:
    """Store a new browser id in a cookie, so that a reload finds this browser's record.

    Streamlit reads cookies only from the page's first request, so only the page can set one: a line of
    JavaScript in an invisible st.html element, drawn on every run of a session that found no cookie (the
    same element is not run twice).  SameSite=Lax, not Strict: a link followed from another site (a course page)
    must still bring the browser's id, or the page would start a new record and overwrite the cookie."""
    if state.get("browser_cookie_sent", True):
        return
    st.html(
        f"<script>document.cookie = '{COOKIE}={browser_id()}; path=/; max-age={COOKIE_SECONDS}; SameSite=Lax';"
        "</script>",
        unsafe_allow_javascript=True,
        width=1,
    )
