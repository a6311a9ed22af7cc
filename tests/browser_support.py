"""What the real-browser tests share: the skip rule, a dashboard server for a test, Chromium's launch arguments.

Skipped (with the reason) when /usr/bin/chromium or playwright is missing, unless KD_REQUIRE_BROWSER=1,
which makes a missing browser a failure (CI sets it).

Servers: most browser tests use the one server tests/conftest.py starts for the whole run (the ``shared_dashboard``
fixture).  A test that needs an empty cache or its own environment starts its own with ``own_dashboard``.  Both
start it the one way, benchmarks/loadtest_server.py's ``dashboard_server`` (kd-dashboard's options).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from benchmarks.loadtest_server import DashboardServer, dashboard_server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def missing_browser() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (install Debian's chromium: make browser)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


def require_browser() -> None:
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get("KD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"KD_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def own_dashboard(
    folder: Path, cache_dir: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[DashboardServer]:
    """A dashboard server of a test's own: its log in ``folder``/server.log, its KD_CACHE_DIR ``cache_dir`` (by
    default ``folder``/cache, empty), ``env`` added to its environment.  Yields it (``.url``, ``.cache_dir``,
    ``.running()``) and stops it on exit.  A server that does not start fails the test; any traceback in its
    log is printed when it stops: a worker's traceback belongs in the log, never the page."""
    folder = Path(folder)
    started: DashboardServer | None = None
    try:
        with dashboard_server(cache_dir or folder / "cache", folder / "server.log", env) as server:
            started = server
            yield server
    except RuntimeError as error:
        if started is not None:  # the test's own error, not the server's start
            raise
        pytest.fail(str(error))
    finally:
        if started is not None and "Traceback" in started.log():
            print(f"{started.log_path}:\n{started.log()[-3000:]}")
