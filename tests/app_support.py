"""What the AppTest tests share: the page's script, its sidebar job, and readers of what a run left on the page.
The ``app`` fixture itself (a fresh page, its job stopped afterwards) is in conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def main_job(at: AppTest):
    """The session's sidebar job (Distill / Train / load teacher), or None."""
    return (at.session_state["jobs"] if "jobs" in at.session_state else {}).get("main")


def finish(at: AppTest) -> AppTest:
    """Wait for this session's job, then rerun the page as the polling fragment would."""
    assert main_job(at).join(180), "the worker did not finish"
    return at.run()


def open_link(query: str) -> AppTest:
    """A fresh page opened by a link's query (``"?lesson=unseen-class&tab=history"``)."""
    at = AppTest.from_file(APP, default_timeout=120)
    for pair in filter(None, query.lstrip("?").split("&")):
        key, _, value = pair.partition("=")
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def open_tab(at: AppTest, label: str) -> AppTest:
    """Open tab ``label`` as a click would: only the open tab draws (dashboard/app.py show_tabs)."""
    at.session_state["tab"] = label
    return at.run()


def one_seed(at: AppTest) -> AppTest:
    """Distill over one seed: a replaced ``runs.distill`` is then the one call (several seeds may train in worker
    processes, where no monkeypatch reaches)."""
    return at.slider(key="seeds").set_value(1).run()


def history_column(at: AppTest, key: str) -> list:
    """A column of the History tab's table, by its history-row key (the table may show it under a heading)."""
    from dashboard.tabs import history

    label = getattr(history, "label", lambda k: k)
    (table,) = in_tab(at, "History", lambda: [d.value for d in at.dataframe if label("status") in d.value.columns])
    return table[label(key)].tolist()


def in_tab(at: AppTest, label: str, read):
    """``read()`` with tab ``label`` open; the test then goes on in the tab it was in (only the open tab draws)."""
    was = at.session_state["tab"] if "tab" in at.session_state else "Distill"
    open_tab(at, label)
    found = read()
    if was != label:
        open_tab(at, was)
    return found


def charts(at: AppTest) -> dict[str, dict]:
    """Plotly figures on the page, by title."""
    found = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("layout", {}).get("title", {})
        found[title.get("text", "") if isinstance(title, dict) else str(title)] = spec
    return found
