"""Every chart on the page goes through ``show``: one place that decides how a Plotly figure meets the screen.

- No mode bar: Plotly's toolbar sat over every chart title on a phone, and nothing on the page needs it (a
  chart's data is in the exports and the tables beside it).
- Presentation mode (``state["present"]``) scales the chart's text for a room: ticks, legends and titles.
- A text alternative: ``alt`` is one line saying what the chart shows, written under it for screen readers and for
  anyone who cannot read the chart (axe-core's rule for images: every picture has words).

The figure builders stay pure (dashboard/figures/plots.py and friends); this is the one Streamlit-side step.
"""

from __future__ import annotations

import html
import re

import plotly.graph_objects as go
import streamlit as st

CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True}
PRESENT_SCALE = 1.5  # chart text in presentation mode: 12 px ticks and legends become 18 px, a 16 px title 24 px
# The least size of chart ticks and legends in presentation mode: what a room reads from 8 m (dashboard/page/style.py).
# A figure that sets smaller ticks for a phone (the "one input as T rises" panels: 9 px) gets this, not 1.5× its 9 px.
PRESENT_MIN = 16


# A trace type as the words for it: a "chart" kind (drawn in one chart: "line and dot chart"), or a thing of its own.
CHART_KINDS = {"bar": "bar", "pie": "pie"}
OWN_KINDS = {
    "heatmap": "heatmap",
    "histogram": "histogram",
    "box": "box plot",
    "violin": "violin plot",
    "image": "image",
}
MAX_SERIES = 6  # named in the summary; more are counted


def _plain(text) -> str:
    """Plotly's label markup (``<br>``, ``<b>``, ``<sub>``, entities) as plain words on one line."""
    text = re.sub(r"<br\s*/?>", " ", str(text or ""), flags=re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())


def _kind(figure: go.Figure) -> str:
    """What sort of chart it is, from its traces: "line chart", "line and dot chart", "heatmap"…"""
    chart, own = [], []
    for trace in figure.data:
        if trace.type in ("scatter", "scattergl"):
            chart.append("line" if "lines" in (trace.mode or "lines") else "dot")
        elif trace.type in CHART_KINDS:
            chart.append(CHART_KINDS[trace.type])
        else:
            own.append(OWN_KINDS.get(trace.type, "chart"))
    if own in (["heatmap"], ["image"]) and not chart and figure.layout.xaxis.visible is False:
        return "picture"  # pixels drawn as a heatmap with no axes: an image (figures.image_figure), not a chart
    kinds = ([" and ".join(dict.fromkeys(chart)) + " chart"] if chart else []) + list(dict.fromkeys(own))
    return " and ".join(kinds) or "chart"


def alt_text(figure: go.Figure) -> str:
    """One line saying what the chart shows, from the figure itself: its kind, its title, what is plotted against
    what (the axis titles) and its series, e.g. "Line chart “Training loss”: loss against epoch; series: Teacher,
    KD student, Scratch baseline."."""
    layout = figure.layout
    title = _plain(layout.title.text if layout.title else "")
    x, y = (_plain(a.title.text) if a is not None and a.title else "" for a in (layout.xaxis, layout.yaxis))
    kind = _kind(figure)
    line = kind[0].upper() + kind[1:] + (f" “{title}”" if title else "")
    heatmap = any(t.type == "heatmap" for t in figure.data)
    if x and y:
        line += f": rows {y}, columns {x}" if heatmap else f": {y} against {x}"
    elif y:
        line += f": {y} on the vertical axis"
    elif x:
        line += f": {x} on the horizontal axis"
    names = list(dict.fromkeys(_plain(t.name) for t in figure.data if getattr(t, "name", None)))
    names = [n for n in names if n]
    if names:
        shown = names[:MAX_SERIES] + ([f"{len(names) - MAX_SERIES} more"] if len(names) > MAX_SERIES else [])
        line += ("; series: " if len(names) > 1 else "; series ") + ", ".join(shown)
    return line + "."


# The sizes Streamlit's chart theme gives text a figure leaves unset (measured in the browser): these, not
# Plotly's 12 px everywhere, are what presentation mode has to scale, so every size is set explicitly.
THEME_SIZES = {"title": 16, "tick": 12, "axis_title": 14, "legend": 12, "annotation": 12}


def _size(font, default: int) -> float:
    return (font.size if font is not None and font.size else None) or default


def scaled(figure: go.Figure, scale: float, least: int = PRESENT_MIN) -> go.Figure:
    """A copy of ``figure`` with every text size multiplied by ``scale``: title, ticks, axis titles, legend,
    annotations (subplot titles too), colour bars and text on the bars; a taller plot for the bigger text.  Ticks and
    legends are at least ``least`` px (``PRESENT_MIN`` by default, presentation mode's)."""
    figure = go.Figure(figure)
    layout = figure.layout
    grow = lambda size: round(size * scale)  # noqa: E731
    readable = lambda size: max(least, grow(size))  # noqa: E731
    figure.update_layout(
        font_size=grow(_size(layout.font, 12)),
        title_font_size=grow(_size(layout.title.font if layout.title else None, THEME_SIZES["title"])),
        legend_font_size=readable(_size(layout.legend.font, THEME_SIZES["legend"])),
    )
    for axis in [*figure.select_xaxes(), *figure.select_yaxes()]:
        axis.update(
            tickfont_size=readable(_size(axis.tickfont, THEME_SIZES["tick"])),
            title_font_size=grow(_size(axis.title.font if axis.title else None, THEME_SIZES["axis_title"])),
        )
    for note in layout.annotations:
        note.update(font_size=grow(_size(note.font, THEME_SIZES["annotation"])))
    for trace in figure.data:
        if getattr(trace, "textfont", None) is not None and trace.textfont.size:
            trace.update(textfont_size=grow(trace.textfont.size))
        if getattr(trace, "colorbar", None) is not None:
            trace.update(
                colorbar_tickfont_size=readable(_size(trace.colorbar.tickfont, THEME_SIZES["tick"])),
                colorbar_title_font_size=grow(_size(trace.colorbar.title.font, THEME_SIZES["axis_title"])),
            )
    if layout.height:
        figure.update_layout(height=round(layout.height * min(scale, 1.25)))
    return figure


def columns(spec: int | list[float]) -> list:
    """Side-by-side columns for charts (``spec`` as ``st.columns`` takes it: a count or relative widths); in
    presentation mode, the same number of full-width rows: a chart a room reads needs the width (two side by side
    at 1024 px get 270 px each, and five panels of ten class labels at 16 px do not fit in five sixths of it)."""
    if st.session_state.get("present"):
        return [st.container() for _ in range(spec if isinstance(spec, int) else len(spec))]
    return st.columns(spec)


def show(figure: go.Figure, *, key: str, alt: str | None = None, where=None, **options) -> None:
    """Draw ``figure`` in ``where`` (a column or container; the page if None) with its text alternative."""
    where = where if where is not None else st
    if st.session_state.get("present"):
        figure = scaled(figure, PRESENT_SCALE)
    options.setdefault("width", "stretch")
    where.plotly_chart(figure, key=key, config=CONFIG, **options)
    text = alt or alt_text(figure)
    where.html(f'<p class="kd-chart-alt" data-chart="{html.escape(key)}">{html.escape(text)}</p>')
