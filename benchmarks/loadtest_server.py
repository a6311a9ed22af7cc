"""The one way a dashboard server is started for a load test, a replica test or a browser test: ``kd-dashboard``'s
own options, a free 127.0.0.1 port, its own KD_CACHE_DIR; and the CPU time a process has used, to say what a run
cost the server.  (tests/browser_support.py wraps it for pytest; tests/conftest.py shares one for the whole run.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from dashboard import launch

SERVER_START_SECONDS = 120.0


@dataclass(frozen=True)
class DashboardServer:
    url: str
    pid: int | None  # None for a server named by --url: its CPU time is not measured
    cache_dir: Path | None = None  # its KD_CACHE_DIR (None for a server named by --url)
    log_path: Path | None = None  # its stdout and stderr
    process: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    def running(self) -> bool:
        """Whether the server's process is still alive (always False for a server named by --url)."""
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """What the server has written so far ("" for a server named by --url)."""
        return self.log_path.read_text(errors="replace") if self.log_path else ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Whether the server answers ``ok`` on Streamlit's health endpoint within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=timeout) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


@contextmanager
def dashboard_server(cache_dir: str | Path, log_path: str | Path, env: dict | None = None) -> Iterator[DashboardServer]:
    """``kd-dashboard``'s server (same options) on a free 127.0.0.1 port with KD_CACHE_DIR=cache_dir (created if
    missing); ``env`` adds to this process's environment.  Yields it and stops it, with its workers, on exit.
    Raises RuntimeError when it does not become healthy within SERVER_START_SECONDS."""
    cache_dir, log_path = Path(cache_dir), Path(log_path)
    cache_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = launch.command(
        ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    )
    with open(log_path, "w") as log:
        # Its own process group: the server's fork server and training workers go with it when it stops.
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(launch.APP).parents[1],
            env={**os.environ, **(env or {}), "KD_CACHE_DIR": str(cache_dir)},
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while not healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"the dashboard server did not start (exit {process.poll()}): {tail}")
                time.sleep(0.25)
            yield DashboardServer(url, process.pid, cache_dir, log_path, process)
        finally:
            stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL to whatever is left after 20 s."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the server is gone; its workers must not outlive it
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


def cpu_seconds(pid: int | None) -> float | None:
    """A process's user + system CPU time so far (Linux /proc), None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None
