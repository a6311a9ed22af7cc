"""The README's measured blocks: each lies between two markers and is rewritten by the script that measures it."""

from __future__ import annotations

import json
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


def publish(block: str, measured: dict, json_path: str | None, readme: str | None, name: str, script: str) -> None:
    """What every measuring script does with its result: print the block, write the numbers as JSON if asked, and
    rewrite the README's ``name`` block if asked."""
    print(block)
    if json_path:
        Path(json_path).write_text(json.dumps(measured, indent=2))
    if readme:
        replace_block(readme, name, script, block)
