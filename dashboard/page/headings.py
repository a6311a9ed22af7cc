"""Headings in order (h1 the page, h2 a tab's title or the verdict, h3 a section) at sizes below the page's title.

Screen readers and axe's heading-order rule want levels that go down one at a time; Streamlit's own helpers tie
the level to a size (``st.header`` is 2.25 rem, larger than the page's title).  These keep the level and set the
size: a tab's title as large as ``st.subheader`` draws one (1.75 rem), a section as ``####`` does (1.5 rem).
Presentation mode's CSS (dashboard/page/style.py, ``!important``) still makes both larger for a room.
"""

from __future__ import annotations

import html

import streamlit as st

TITLE_SIZE = "1.75rem"
SECTION_SIZE = "1.5rem"


def _heading(level: int, text: str, size: str, where) -> None:
    where.markdown(f'<h{level} style="font-size: {size}">{html.escape(text)}</h{level}>', unsafe_allow_html=True)


def title(text: str, where=st) -> None:
    """A tab's title: an h2 under the page's h1."""
    _heading(2, text, TITLE_SIZE, where)


def section(text: str, where=st) -> None:
    """A section of a tab: an h3 under its title."""
    _heading(3, text, SECTION_SIZE, where)
