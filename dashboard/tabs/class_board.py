"""Tab "Class board": every run finished on this server (Distill, the sweeps, the findings after Hinton), as KD −
baseline against one setting, one colour per lesson or finding.

A class splits the settings among its students (one takes T = 1, another T = 2, …); each Distill stores its runs
in the server's results folder, and this tab redraws them every couple of seconds, so the class builds one chart
together.  Reading and grouping are kd_core.board.collect's; the chart is dashboard/figures/board.py's.
"""

from __future__ import annotations

import datetime
import functools

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.figures import board as board_figures
from dashboard.figures import charts
from kd_core.board.collect import (
    AXES,
    Board,
    BoardRun,
    FolderReader,
    build_board,
    read_start,
    show_every_run,
    start_fresh,
)
from kd_core.runs import served

REFRESH_SECONDS = 2.0  # often enough to feel live; each refresh only lists the folder unless a run has finished
INTRO = (
    "Every run finished on this server — yours and your classmates' — as KD student minus scratch baseline, in "
    "points. Split the settings among the class (one takes T = 1, another T = 2, …), press **Distill**, and watch "
    "the chart fill in: faint dots are seeds, bold markers their mean with its 95 % interval. Below the dashed "
    "line KD did worse than training from scratch. The runs of the T & λ sweep and Little data tabs show too, "
    "as open squares on a dotted line, marked “(sweep)”. A finding after Hinton shows under its name: its runs with "
    "a scratch baseline (poor-teacher, fidelity, the 32-wide teacher of capacity-gap, noise-transfer's real images)."
)


@st.cache_resource(show_spinner=False)
def reader() -> FolderReader:
    """One reader for the whole server: each result file is loaded once, whichever session sees it first."""
    return FolderReader()


@functools.lru_cache(maxsize=16)
def drawn(runs: tuple[BoardRun, ...], axis: str, since: float | None) -> tuple[Board, go.Figure, pd.DataFrame]:
    """The board, its chart and its table, built once per set of runs: every session refreshes every couple of
    seconds, and while nothing new finishes they all draw what was built before (the figure alone costs ~50 ms)."""
    board = build_board(list(runs), axis, since)
    return board, board_figures.board_figure(board), pd.DataFrame(board_figures.board_rows(board))


def _clock(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds).strftime("%H:%M:%S")


def render(folder: str | None = None) -> None:
    """The board of ``folder`` (default: the server's results folder, where every Distill stores its runs)."""
    st.header("Class board")  # h2 under the page's h1 (axe: heading-order)
    st.caption(INTRO)
    folder = folder or served.shared_results().disk_folder
    if folder is None:
        st.info(
            "This server cannot write its cache folder, so finished runs stay in each page's memory and there is "
            "no shared board. Ask whoever runs the server to set KD_CACHE_DIR to a writable folder."
        )
        return
    board_view(folder)


@st.fragment(run_every=REFRESH_SECONDS)
def board_view(folder: str) -> None:
    # Inside the fragment: a new axis or a fresh board redraws this tab only, not the whole page.
    axis = st.radio(
        "Across the bottom",
        list(AXES),
        format_func=AXES.get,
        horizontal=True,
        key="board_axis",
        help="The setting the class varies. A run counts for a lesson when every other setting is the "
        "lesson's (the seed aside); anything else is free play.",
    )
    board, figure, table = drawn(tuple(reader().read(folder)), axis, read_start(folder))
    if board.since is not None:
        st.caption(
            f"Fresh board since {_clock(board.since)}: {board.hidden} earlier "
            f"run{'s' if board.hidden != 1 else ''} hidden."
        )
    if not board.groups:
        st.info(
            "No finished runs on the board yet. Pick a lesson, move the setting shown across the bottom, and press "
            "**Distill** — your runs appear here within a couple of seconds, and so do everyone else's."
        )
    else:
        charts.show(figure, key="board_chart")
        seeds = "seed" if board.runs == 1 else "seeds"
        with st.expander(
            f"The numbers: {len(board.groups)} setting{'' if len(board.groups) == 1 else 's'}, "
            f"{board.runs} {seeds} in all"
        ):
            st.dataframe(table, hide_index=True, width="stretch")
    with st.expander("For the teacher: start a fresh board"):
        st.caption(
            "A fresh board shows only runs that finish from now on; nothing is deleted, and no names are kept — "
            "a run is only its settings. A run served from the cache (someone ran its settings before) counts "
            "from the moment it is served."
        )
        left, right = st.columns(2)
        left.button(
            "Start a fresh board",
            key="board_fresh",
            on_click=start_fresh,
            args=(folder,),
            help="Hide every run finished until now, for everyone on this server.",
        )
        right.button(
            "Show every run again",
            key="board_all",
            on_click=show_every_run,
            args=(folder,),
            disabled=board.since is None,
            help="Undo the fresh start: every stored run shows again.",
        )
