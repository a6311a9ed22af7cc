"""The Methods tab's pure figures (loss parts on decade ticks, the forest plot's title and legend, the seconds with
their spread), and the DKD decomposition on the Probabilities tab: its pure figures and numbers, and the tab drawing
them."""

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


def test_log_axes_label_whole_decades_only_with_at_least_two_ticks():
    decades = dict(type="log", range=[-2, 1], tickmode="array", tickvals=[0.01, 0.1, 1.0, 10.0])
    assert mf.decade_axis([0.03, 2.5]) == {**decades, "ticktext": ["0.01", "0.1", "1", "10"]}
    assert mf.decade_axis([0.5, 0.7])["ticktext"] == ["0.1", "1"]  # within one decade: still two ticks
    assert mf.decade_axis([2e-4, 0.0, 3.0])["ticktext"] == ["10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹"]  # 0 not drawn
    assert mf.decade_axis([1e-9, 50])["ticktext"] == ["10⁻⁹", "10⁻⁷", "10⁻⁵", "10⁻³", "10⁻¹", "10¹"]  # every other
    assert mf.decade_axis([]) == {"type": "log"}


def test_a_methods_loss_parts_have_titled_axes_whole_epochs_and_decade_ticks():
    figure = mf.parts_figure("dkd", {"total": [1.9, 0.8, 0.5], "hard": [1.2, 0.5, 0.3], "tckd": [0.4, 0.1, 0.002]})
    assert figure.layout.title.text == "DKD" and [t.name for t in figure.data] == ["total", "hard", "TCKD"]
    assert figure.layout.xaxis.title.text == "epoch" and figure.layout.yaxis.title.text == "loss, log scale"
    assert figure.layout.xaxis.dtick == 1 and list(figure.layout.yaxis.ticktext) == ["0.001", "0.01", "0.1", "1", "10"]
    assert mf.epoch_axis(20)["dtick"] == 5 and mf.epoch_axis(200)["dtick"] == 50
    from dashboard.figures.charts import alt_text

    assert alt_text(figure) == "Line chart “DKD”: loss, log scale against epoch; series: total, hard, TCKD."


def test_the_forest_plot_has_a_title_and_a_legend_of_its_marks_and_colours():
    from types import SimpleNamespace

    from kd_core.stats import Interval

    kd = SimpleNamespace(
        method="kd", seeds=[0, 1], vs_scratch=[0.02, 0.03], vs_kd=[0.0, 0.0], scratch_interval=Interval.of([0.02, 0.03])
    )
    kd.kd_interval = Interval.of(kd.vs_kd)
    figure = mf.forest_figure([kd])
    assert figure.layout.title.text == mf.FOREST_TITLE
    shown = [t.name for t in figure.data if t.showlegend]
    assert shown == ["mean", "95 % interval", "one seed", "above 0", "below 0", "includes 0"]
    assert figure.layout.legend.orientation == "h" and figure.layout.legend.yref == "container"
    assert mf.forest_alt([kd]).endswith(
        "KD: +2.50 points over scratch (95 % interval −3.85 to +8.85), no clear difference."
    )


def test_the_cost_chart_draws_each_seed_and_the_mean_with_its_sd():
    from types import SimpleNamespace

    from kd_core.stats import Spread

    timing = SimpleNamespace(method="fitnets", seconds=[1.4, 1.6], seeds=[0, 1], spread=Spread.of([1.4, 1.6]))
    timing.words = lambda: "1.50 ± 0.14 s"
    figure = mf.cost_figure([timing])
    assert figure.layout.title.text == mf.COST_TITLE and figure.layout.xaxis.title.text == mf.COST_AXIS
    (line,) = [t for t in figure.data if t.mode == "lines" and not t.showlegend]
    assert [round(x, 4) for x in line.x] == [1.3586, 1.6414] and figure.layout.xaxis.rangemode == "tozero"


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
