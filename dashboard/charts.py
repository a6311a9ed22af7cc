"""Every chart on the page goes through ``show``: one place that decides how a Plotly figure meets the screen.

- No mode bar: Plotly's toolbar sat over every chart title on a phone, and nothing on the page needs it (a
  chart's data is in the exports and the tables beside it).
- Presentation mode (``state["present"]``) scales the chart's text for a room: ticks, legends and titles.
- A text alternative: ``alt`` is one line saying what the chart shows, written under it for screen readers and for
  anyone who cannot read the chart (axe-core's rule for images: every picture has words).

The figure builders stay pure (dashboard/figures.py and friends); this is the one Streamlit-side step.
"""
from __future__ import annotations

import html

import plotly.graph_objects as go
import streamlit as st

CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True}
PRESENT_SCALE = 1.35  # chart text in presentation mode: 12 px ticks become ~16 px, a 14 px legend ~19 px


def alt_text(figure: go.Figure) -> str:
    """A fallback description from the figure itself: its title, axes and series names."""
    layout = figure.layout
    title = (layout.title.text or "").strip() if layout.title else ""
    axes = [a.title.text for a in (layout.xaxis, layout.yaxis) if a is not None and a.title and a.title.text]
    names = [t.name for t in figure.data if getattr(t, "name", None)]
    parts = [title or "Chart"]
    if axes:
        parts.append(" against ".join(reversed(axes)))
    if names:
        parts.append("series: " + ", ".join(dict.fromkeys(names)))
    return html.unescape(" — ".join(parts).replace("<br>", " "))


def scaled(figure: go.Figure, scale: float) -> go.Figure:
    """A copy of ``figure`` with every text size multiplied by ``scale`` (Plotly's default is 12 px)."""
    figure = go.Figure(figure)
    base = figure.layout.font.size or 12
    figure.update_layout(font_size=round(base * scale))
    if figure.layout.title and figure.layout.title.font and figure.layout.title.font.size:
        figure.update_layout(title_font_size=round(figure.layout.title.font.size * scale))
    if figure.layout.height:
        figure.update_layout(height=round(figure.layout.height * min(scale, 1.2)))
    return figure


def show(figure: go.Figure, *, key: str, alt: str | None = None, where=None, **options) -> None:
    """Draw ``figure`` in ``where`` (a column or container; the page if None) with its text alternative."""
    where = where if where is not None else st
    if st.session_state.get("present"):
        figure = scaled(figure, PRESENT_SCALE)
    options.setdefault("width", "stretch")
    where.plotly_chart(figure, key=key, config=CONFIG, **options)
    text = alt or alt_text(figure)
    where.html(f'<p class="kd-chart-alt" data-chart="{html.escape(key)}">{html.escape(text)}</p>')
