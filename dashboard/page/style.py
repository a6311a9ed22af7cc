"""The page's CSS: compact for a 1024×768 projector, readable on a 390 px phone, and presentation mode for a room.

Sizes are stated where they matter, measured in the browser by tests/test_layout_browser.py (at 1024×768):
normal mode, headline numbers 22.4 px, the verdict 36 px, its interval 16 px and chart ticks 12 px; presentation
mode, headline numbers 32 px, the verdict 44 px and its interval 24 px, chart ticks and legends 18 px, chart titles
24 px (dashboard/figures/charts.py).
The criterion for "readable from the back of a room" (8 m): 24 px or more for the verdict and the headline
numbers, 16 px or more for chart ticks and legends.
"""

from __future__ import annotations

import streamlit as st

PHONE = 640  # px: below this Streamlit stacks the columns and the sidebar becomes an overlay

# The main page's own Distill is for a folded sidebar (a phone's always starts so): beside an open one, where the
# sidebar's Distill is in view, it is hidden.
HIDE_PAGE_DISTILL = (
    'body:has([data-testid="stSidebar"][data-collapsed="false"]) .st-key-distill_main { display: none; }'
)

# Compact enough that the verdict and the charts start high on a 1024×768 screen: less padding above the title,
# smaller metric values, and metric labels and values that wrap instead of being cut off in narrow columns.
COMPACT = f"""<style>
@media (min-width: {PHONE}px) {{  /* a phone keeps room for Streamlit's header bar, which sits over the page */
  .block-container {{ padding-top: 2.5rem; }}
  h1 {{ font-size: 2.1rem !important; padding-top: 0 !important; }}
}}
/* A phone: the title on one line (28 px, not two of 44 px) just under the header bar (3.75rem), so that the page's own
   Distill, under the lesson, the tabs and what Distill does, is on a 390×844 phone's first screen (it was at
   y = 843; now at 727 on the first lesson, 775 on the longest lesson text, with fifteen tabs). */
@media (max-width: {PHONE - 0.02}px) {{
  .block-container {{ padding-top: 4.25rem; }}
  h1 {{ font-size: 1.75rem !important; padding-top: 0 !important; }}
  /* fifteen tab labels in as few rows as a phone allows: closer together, each row lower */
  [data-testid="stTabs"] [role="tablist"] {{ column-gap: 0.6rem !important; }}
  [data-testid="stTabs"] [data-testid="stTab"] {{ height: 1.75rem !important; }}
}}
{HIDE_PAGE_DISTILL}
[data-testid="stMetricValue"] {{ font-size: 1.4rem; }}
/* Every tab reachable on a projector or a phone: the tab strip wraps onto a second line instead of scrolling. */
[data-testid="stTabs"] [role="tablist"] {{ flex-wrap: wrap; overflow-x: visible; row-gap: 0; }}
[data-testid="stTabs"] [data-testid="stTab"] {{ height: 2.25rem; }}  /* two rows of tabs, not two rows of padding */
[data-testid="stMetricValue"], [data-testid="stMetricValue"] *, [data-testid="stMetricLabel"] p, \
[data-testid="stMetricLabel"] div {{
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; \
overflow-wrap: anywhere; }}
/* A button or toggle label wraps onto a second line rather than ending in "Ran…" in a narrow column. */
.block-container button [data-testid="stMarkdownContainer"], \
.block-container button [data-testid="stMarkdownContainer"] p,
.block-container [data-testid="stWidgetLabel"] [data-testid="stMarkdownContainer"],
.block-container [data-testid="stWidgetLabel"] [data-testid="stMarkdownContainer"] p {{
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; }}
/* A cached function's spinner ("Loading the dataset…", "Timing a few training steps on this server…") takes its own
   line: Streamlit lays it over whatever follows it (its box 0 px high), and on a rerun that was the lesson's box or
   the tab labels. */
[data-testid="stElementContainer"]:has(> .stCacheSpinner) {{ height: auto !important; margin-bottom: 0 !important; }}
/* No link icon beside a heading: the verdict is a heading, and a chain icon next to "KD helps" reads as a button. */
[data-testid="stHeaderActionElements"] {{ display: none; }}
/* A formula wider than a phone shrinks to fit instead of scrolling sideways unseen (the long ones are also split
   into short lines in dashboard/tabs/explanation.py). */
@media (max-width: {PHONE}px) {{ .katex-display > .katex {{ font-size: 1em; }} }}
</style>"""

# Presentation mode, for a projector: larger type for the room (the sidebar shows only the lesson's controls), the
# headline numbers larger still, the page's full width for the charts (they are stacked: dashboard/figures/charts.py).
# Paragraph sizes are set on st.markdown's and st.alert's text only: a blanket `.block-container p` rule would also
# hit the metric values (shrinking them from 22.4 px to 19.2 px) and the button labels.
PRESENTATION = f"""<style>
@media (min-width: {PHONE}px) {{ .block-container {{ padding-left: 2rem; padding-right: 2rem; }} }}
.block-container [data-testid="stMarkdown"] p, .block-container [data-testid="stMarkdown"] li {{ \
font-size: 1.5rem !important; }}
.block-container [data-testid="stAlert"] p {{ font-size: 1.25rem !important; }}  /* the lesson's box: read, not shown */
.block-container [data-testid="stCaptionContainer"] p, .block-container [data-testid="stCaptionContainer"] {{
  font-size: 1.2rem !important; }}
.block-container [data-testid="stMetricValue"], .block-container [data-testid="stMetricValue"] * {{
  font-size: 2rem !important; line-height: 1.25; }}
.block-container [data-testid="stMetricLabel"] p {{ font-size: 1.2rem !important; }}
.block-container h2 {{ font-size: 2.25rem !important; }}
.block-container h3 {{ font-size: 1.9rem !important; }}
.block-container h4 {{ font-size: 1.75rem !important; }}
/* The verdict ("KD helps"): the report's h2 beside its per-seed chart, the largest words on the page. */
.block-container [data-testid="stColumn"] h2 {{ font-size: 2.75rem !important; }}
[data-testid="stSidebar"] p, [data-testid="stSidebar"] label {{ font-size: 1.2rem !important; }}
[data-testid="stTab"] p {{ font-size: 1.15rem !important; }}
h1 {{ font-size: 2.6rem !important; }}
</style>"""


def apply() -> None:
    """The page's CSS, and presentation mode's on top when it is on."""
    st.html(COMPACT)
    if st.session_state.get("present"):
        st.html(PRESENTATION)
