"""The README and docs/ name only what exists: every relative link resolves, and every module path, command and
make target they mention is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readme_is_a_guide_and_docs_hold_the_rest():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
    assert {p.name for p in PAGES} >= {"README.md", "development.md", "cli.md", "methods.md", "lessons.md"}


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_every_module_path_named_exists():
    missing = []
    for page in PAGES:
        for path in set(re.findall(r"\b((?:kd_core|dashboard|benchmarks|tests)/[\w/]*\w\.py)\b", page.read_text())):
            if not (ROOT / path).exists():
                missing.append(f"{page.relative_to(ROOT)}: {path}")
    assert not missing, missing


def test_every_make_target_named_exists():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    named = {t for page in PAGES for t in re.findall(r"`make ([\w-]+)", page.read_text())}
    assert named and named <= targets, named - targets


def test_the_readme_tours_every_tab_the_page_has():
    """Each tab label in dashboard/app.py's views() is named in bold in the README's tour, and no other is."""
    app = (ROOT / "dashboard" / "app.py").read_text()
    body = app[app.index("def views(") : app.index("def experiment_view(")]
    tabs = set(re.findall(r'^\s+"([^"]+)": ', body, re.M))
    readme = (ROOT / "README.md").read_text()
    tour = readme[readme.index("## A short tour") : readme.index("## Serving a class")]
    toured = set(re.findall(r"^\* \*\*([^*]+)\*\*", tour, re.M))
    assert len(tabs) >= 10 and toured == tabs, (tabs - toured, toured - tabs)


def test_every_test_file_is_in_the_development_guides_table():
    guide = (ROOT / "docs" / "development.md").read_text()
    missing = [p.name for p in sorted((ROOT / "tests").glob("test_*.py")) if f"`{p.name}`" not in guide]
    assert not missing, missing
