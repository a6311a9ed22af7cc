"""The DKD decomposition on the Probabilities tab: its pure figures and numbers, and the tab drawing them."""

from __future__ import annotations

import numpy as np
import torch
from streamlit.testing.v1 import AppTest
from test_methods_app import chart  # the same chart lookup as the Methods tab's test

from dashboard.figures import methods as mf
from kd_core import RunConfig, TeacherCache
from kd_core.methods.registry import decompose, nontarget_mass
from kd_core.runs.setup import RunSetup

TIMEOUT = 180


def test_nontarget_mass_is_one_minus_the_teachers_target_probability():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 10, generator=g, dtype=torch.float64) * 4
    labels = torch.randint(0, 10, (50,), generator=g)
    for T in (0.5, 1.0, 4.0, 20.0):
        p = torch.softmax(logits / T, dim=1)
        assert torch.allclose(nontarget_mass(logits, labels, T), 1 - p[torch.arange(50), labels], atol=1e-12, rtol=0)
    assert torch.allclose(nontarget_mass(logits, labels, 4.0), decompose(logits, logits, labels, 4.0)["weight"])


def test_decomposition_bar_stacks_to_the_kl():
    figure = mf.decomposition_figure(kd=0.5, tckd=0.2, weight=0.25, nckd=1.2, temperature=4)
    stacked = [t for t in figure.data if list(t.x) == ["KD"]]
    assert sum(t.y[0] for t in stacked) == 0.2 + 0.25 * 1.2
    assert figure.layout.barmode == "stack" and "0.5000" in figure.layout.title.text
    assert [t.y[0] for t in figure.data if list(t.x) == ["NCKD alone"]] == [1.2]


def test_nontarget_histogram_counts_every_image():
    weights = np.array([0.01, 0.02, 0.5, 0.97])
    figure = mf.nontarget_figure(weights, 2.0)
    assert list(figure.data[0].x) == list(weights) and "T = 2" in figure.layout.title.text
    assert figure.layout.xaxis.range == (0, 1)


def page_script():
    import streamlit as st

    from dashboard.page import resources
    from dashboard.tabs import probabilities
    from kd_core import RunConfig

    config = RunConfig(device="cpu", teacher_epochs=3, temperature=st.session_state.get("T", 4.0))
    dataset, _ = resources.dataset_or_problem(config.dataset)
    probabilities.render(config, dataset)


def test_probabilities_tab_draws_the_decomposition_and_redraws_it_with_t():
    setup = RunSetup(RunConfig(device="cpu", teacher_epochs=3))
    setup.teacher(TeacherCache())  # in the session's cache: the tab finds its logits
    at = AppTest.from_function(page_script, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    bar, histogram = chart(at, "dkd_bar"), chart(at, "dkd_histogram")
    assert "T = 4" in bar["layout"]["title"]["text"] and len(bar["data"]) == 3
    assert any("median over the test set" in c.value for c in at.caption)
    at.session_state["T"] = 1.0
    at.run()
    assert "T = 1" in chart(at, "dkd_bar")["layout"]["title"]["text"]
    assert "T = 1" in chart(at, "dkd_histogram")["layout"]["title"]["text"]
    assert histogram != chart(at, "dkd_histogram")
