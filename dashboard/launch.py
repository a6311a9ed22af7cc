"""``kd-dashboard``: serve the dashboard on this machine only, without usage statistics; uploads up to 10 MB.

kd-dashboard                      # http://127.0.0.1:8501
kd-dashboard --server.port 8600   # extra arguments go to ``streamlit run`` (later ones win)
kd-dashboard --server.address 0.0.0.0   # a classroom on the local network
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().with_name("app.py")
# The same defaults as .streamlit/config.toml, which an installed copy run from elsewhere does not read.
DEFAULT_ARGS = [
    "--server.address",
    "127.0.0.1",
    "--browser.gatherUsageStats",
    "false",
    "--server.headless",
    "true",
    "--server.maxUploadSize",
    "10",  # Limits.upload_mb in dashboard/page/uploads.py (not imported: it loads the engine); tests hold them equal
    "--client.toolbarMode",
    "minimal",
    "--runner.postScriptGC",
    "false",
]


def command(extra: list[str]) -> list[str]:
    """The ``streamlit run`` command line; ``extra`` comes last so it can override the defaults."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), *DEFAULT_ARGS, *extra]


def main(argv: list[str] | None = None) -> int:
    extra = sys.argv[1:] if argv is None else list(argv)
    try:
        return subprocess.call(command(extra))
    except KeyboardInterrupt:  # Ctrl-C reaches streamlit too; it shuts down by itself
        return 130


if __name__ == "__main__":
    sys.exit(main())
