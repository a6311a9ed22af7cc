"""What the page adds so that axe-core 4 finds nothing serious or moderate, and a screen reader reads it well.

- Captions: Streamlit draws ``st.caption`` at 60 % of the text colour (#828180 on white, 3.9:1, below WCAG's 4.5:1).
  Here they take the text colour at 80 % opacity: 7.2:1 on white, and still readable in the dark theme (the colour
  is inherited, not fixed).
- Chart summaries (``dashboard/figures/charts.py`` writes one under every chart): one small line, same contrast.
- Formulas and tables: one wider than a phone scrolls sideways; the script makes it focusable, so a keyboard can
  scroll it (and a table's cells are tighter on a phone, so History's summary fits without scrolling).
- Slider names: Streamlit 1.67 gives each slider's thumb its label twice (its own ``aria-label`` and, through
  ``aria-labelledby``, the slider's label), so a screen reader says "Seed Seed".  A small script drops the thumb's
  reference to itself, leaving the label once; it runs once per page and watches for sliders drawn later.  The
  script is this module's constant, nothing from a user, which is what ``unsafe_allow_javascript`` asks.

tests/test_axe_browser.py runs axe-core on every tab and checks the slider names.
"""

from __future__ import annotations

import streamlit as st

CAPTION_OPACITY = 0.8  # of the text colour: 7.2:1 on white (Streamlit's own 0.6 is 3.9:1)

CSS = f"""<style>
[data-testid="stCaptionContainer"] {{ color: inherit; opacity: {CAPTION_OPACITY}; }}
/* A static table (History's summary) fits a phone: less padding and smaller type, not a sideways scroll. */
@media (max-width: 640px) {{
  [data-testid="stTable"] th, [data-testid="stTable"] td {{ padding: 0.3rem 0.25rem !important; font-size: 0.8rem; }}
}}
p.kd-chart-alt {{ font-size: 0.8rem; line-height: 1.35; margin: -0.6rem 0 0.2rem 0; opacity: {CAPTION_OPACITY}; }}
</style>"""

# A slider thumb named by itself and its label: keep only the label.  A formula or a table wider than a phone
# scrolls sideways: make it focusable, so the keyboard can scroll it too (axe: scrollable-region-focusable).
# Idempotent and cheap (a dozen inputs, a few formulas), coalesced to once per frame.
SCRIPT = """<script>
(() => {
  if (window.kdAccessibility) return;
  window.kdAccessibility = true;
  const fix = () => {
    for (const input of document.querySelectorAll('input[type="range"][aria-labelledby]')) {
      const ids = input.getAttribute("aria-labelledby").split(/\\s+/).filter(Boolean);
      if (ids.length > 1 && ids.includes(input.id)) {
        input.setAttribute("aria-labelledby", ids.filter(id => id !== input.id).join(" "));
      }
    }
    for (const formula of document.querySelectorAll('.katex-display, [data-testid="stTable"] > div')) {
      const scrolls = formula.scrollWidth > formula.clientWidth + 1;
      if (scrolls && !formula.hasAttribute("tabindex")) {
        formula.setAttribute("tabindex", "0");
        formula.dataset.kdScroll = "1";
      } else if (!scrolls && formula.dataset.kdScroll) {
        formula.removeAttribute("tabindex");
        delete formula.dataset.kdScroll;
      }
    }
  };
  let queued = false;
  const soon = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; fix(); }); } };
  fix();
  new MutationObserver(soon).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                     attributeFilter: ["aria-labelledby"]});
  window.addEventListener("resize", soon);
})();
</script>"""

# The script's element takes no room on the page.
HIDE_SCRIPT_BOX = """<style>
[data-testid="stElementContainer"]:has(> [data-testid="stHtml"] > .kd-a11y) { display: none; }
</style>"""


def inject() -> None:
    """The styles and the slider-name script, once per script run (app.py calls it beside its own styles)."""
    st.html(CSS + HIDE_SCRIPT_BOX)
    st.html(f'<span class="kd-a11y"></span>{SCRIPT}', unsafe_allow_javascript=True)
