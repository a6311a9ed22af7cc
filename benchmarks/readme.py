"""The README's measured blocks: each lies between two markers and is rewritten by the script that measures it."""
from __future__ import annotations

import re
from pathlib import Path


def markers(name: str, script: str) -> tuple[str, str]:
    return f"<!-- {name}: measured by {script} -->", f"<!-- {name}: end -->"


def replace_block(readme: str | Path, name: str, script: str, body: str) -> None:
    """Put ``body`` between the ``name`` markers of ``readme``; ValueError if the README has no such block."""
    start, end = markers(name, script)
    path = Path(readme)
    text = path.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path} has no '{name}' block ({start} … {end})")
    path.write_text(pattern.sub(lambda _: f"{start}\n\n{body.strip()}\n\n{end}", text))
