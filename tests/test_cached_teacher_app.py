"""The page (AppTest) finds a teacher as soon as the cache holds it: one put in the cache folder after the first page
load — by kd_core directly, as ``kd-train`` or another browser would — is the Draw tab's and the Probabilities tab's
on the next rerun (a "not found" is never cached).  With it, the teacher's median 1 − p_t at a low T reads as a true
number, never "0.00"."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from app_support import open_tab
from streamlit.testing.v1 import AppTest

from kd_core import RunSetup, TeacherCache, load_dataset, validate
from kd_core.runs import served
from kd_core.studies.lessons import LESSONS

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
SEED = 61  # a teacher no other test trains: the session's cache folder (tests/conftest.py) starts without it
DRAW = "Before any distillation: the student's bars are an **untrained** student's"
BARS = "Before any distillation: the student's bars are those of the **untrained** student"
NO_TEACHER = "No teacher is trained with these settings yet"
MEDIAN = re.compile(r"its median over the test set is (< )?([0-9.]+)\.")


def caption(at: AppTest, start: str) -> str:
    (found,) = [c.value for c in at.caption if c.value.startswith(start)]
    return found


@pytest.fixture
def page():
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.slider(key="seed").set_value(SEED).run()  # the page opens on little-data; only the seed moved
    assert not at.exception, at.exception
    return at


def test_a_teacher_cached_after_the_first_load_is_found_by_draw_and_probabilities_on_the_next_rerun(page):
    assert NO_TEACHER in caption(open_tab(page, "Draw a digit"), DRAW)
    assert NO_TEACHER in caption(open_tab(page, "Probabilities"), BARS)
    assert not [m for m in page.markdown if m.value.startswith("Teacher predicts")]

    config = LESSONS["little-data"].config(seed=SEED)  # the page's settings
    RunSetup(validate(config)).teacher(TeacherCache())  # into $KD_CACHE_DIR, the page's cache folder, as kd-train would

    open_tab(page, "Draw a digit")  # a rerun, as any click makes
    assert not page.exception, page.exception
    assert caption(page, DRAW).endswith("the teacher is the one in the cache for these settings.")
    assert NO_TEACHER not in caption(open_tab(page, "Probabilities"), BARS)
    assert [m for m in page.markdown if m.value.startswith("Teacher predicts")]  # the Probabilities tab's teacher
    assert not [i for i in page.info if i.value.startswith(NO_TEACHER)]  # the heatmap and the T multiples have it

    # The teacher's median 1 − p_t at a low T: a true number or a true bound, never "0.00".
    dataset = load_dataset("digits")
    logits = served.cached_teacher_logits(config, dataset, TeacherCache())
    labels = dataset.y_test.numpy()
    for T in (1.0, 2.5):
        page.slider(key="temperature").set_value(T).run()
        z = logits.astype(np.float64) / T
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        median = float(np.median(1 - p[np.arange(len(labels)), labels]))
        (match,) = [m for m in (MEDIAN.search(c.value) for c in page.caption) if m]
        bound, number = match.group(1), float(match.group(2))
        if bound:
            assert median < number, (T, median, match.group(0))
        else:
            places = len(match.group(2).split(".")[1])
            assert number > 0 and abs(number - median) <= 0.5 * 10**-places + 1e-12, (T, median, match.group(0))
