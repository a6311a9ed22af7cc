"""The measured blocks of the docs: each lies between two markers in its page under docs/ and is rewritten by the
script that measures it (``--docs``; ``--docs PATH`` writes the block of another file that has its markers)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Block name -> the docs page that holds it (tests/test_lessons.py and tests/test_lessons_mnist.py read two of them).
PAGES = {
    "lessons": "docs/lessons.md",
    "experiments": "docs/lessons.md",
    "research": "docs/lessons.md",
    "mnist-lessons": "docs/hinton-mnist.md",
    "lesson-time": "docs/hinton-mnist.md",
    "page-lesson-time": "docs/hinton-mnist.md",
    "ship": "docs/ship.md",
    "language": "docs/language.md",
    "methods": "docs/methods.md",
    "sweep": "docs/performance.md",
    "cifar": "docs/performance.md",
    "bench": "docs/performance.md",
    "bench-kernels": "docs/performance.md",
}


def page(name: str) -> Path:
    """The docs page that holds block ``name``."""
    return ROOT / PAGES[name]


def markers(name: str, script: str) -> tuple[str, str]:
    return f"<!-- {name}: measured by {script} -->", f"<!-- {name}: end -->"


def add_argument(parser: argparse.ArgumentParser, name: str) -> None:
    """``--docs [PATH]``: rewrite block ``name`` in its docs page (or in PATH) with what was measured."""
    parser.add_argument(
        "--docs",
        nargs="?",
        const=str(page(name)),
        metavar="PATH",
        help=f"rewrite the {name} block of {PAGES[name]} (or of PATH)",
    )


def replace_block(path: str | Path, name: str, script: str, body: str) -> None:
    """Put ``body`` between the ``name`` markers of ``path``; ValueError if the file has no such block."""
    start, end = markers(name, script)
    path = Path(path)
    text = path.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path} has no '{name}' block ({start} … {end})")
    path.write_text(pattern.sub(lambda _: f"{start}\n\n{body.strip()}\n\n{end}", text))


def publish(block: str, measured: dict, json_path: str | None, docs: str | None, name: str, script: str) -> None:
    """What every measuring script does with its result: print the block, write the numbers as JSON if asked, and
    rewrite the ``name`` block of ``docs`` (a page under docs/) if asked."""
    print(block)
    if json_path:
        Path(json_path).write_text(json.dumps(measured, indent=2))
    if docs:
        replace_block(docs, name, script, block)
