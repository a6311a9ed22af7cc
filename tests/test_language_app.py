"""The Language tab (AppTest): before a run it says what it will show and draws the mode picture, which moves with
β; after a tiny real run over 2 seeds (worker processes, seconds) the verdict's numbers are the engine's, the
next-character bars are each model's probabilities (summing to 1 over the alphabet) and move with T, the three
samples are shown, and a prefix the corpus cannot read is a sentence, not a traceback; Stop ends a run as stopped."""

from __future__ import annotations

import dataclasses

import pytest
from app_support import charts, open_tab

from dashboard.figures import language as lf
from dashboard.runs import language as lr
from dashboard.text import language as words
from kd_core.execution.workers import InProcess
from kd_core.language.seeds import language_seeds
from kd_core.language.train import LanguageConfig
from kd_core.runs.cache import TeacherCache

TINY = LanguageConfig(
    context=16,
    teacher_layers=2,
    teacher_width=32,
    teacher_heads=2,
    student_layers=1,
    student_width=16,
    student_heads=1,
    teacher_steps=60,
    steps=40,
    batch_size=8,
    lr=1e-2,
    eval_every=20,
)
MODES_TITLE = "One Gaussian student, a two-mode teacher"


def jsd_trace(at) -> dict:
    (trace,) = [t for t in charts(at)[MODES_TITLE]["data"] if t["name"].startswith("JSD")]
    return trace


def test_before_a_run_the_tab_says_what_it_will_show_and_the_mode_picture_moves_with_beta(app):
    labels = [t.label for t in app.tabs]
    assert labels.index("Language") == labels.index("Ship") + 1
    open_tab(app, "Language")
    assert [i.value for i in app.info if i.value == words.BEFORE_RUN]
    picture = charts(app)[MODES_TITLE]
    names = [t["name"] for t in picture["data"]]
    assert names[0] == "Teacher (two modes)" and any(n.startswith("Forward KL") for n in names)
    forward = next(t for t in picture["data"] if t["name"].startswith("Forward KL"))
    reverse = next(t for t in picture["data"] if t["name"].startswith("Reverse KL"))
    assert max(reverse["y"]) > 1.5 * max(forward["y"])  # reverse KL sits on one mode, narrow; forward KL spreads
    before = jsd_trace(app)
    assert "β = 0.5" in before["name"]
    app.slider(key="lang_beta").set_value(0.9).run()
    after = jsd_trace(app)
    assert "β = 0.9" in after["name"] and after["y"] != before["y"]


@pytest.fixture
def ran(app, monkeypatch):
    """The tab after a tiny real run over 2 seeds."""
    monkeypatch.setattr(lr, "BASE_CONFIG", TINY)
    open_tab(app, "Language")
    app.number_input(key="lang_seeds").set_value(2).run()
    app.button(key="exp_run_language").click().run()
    job = app.session_state["jobs"]["language"]
    assert job.join(180), "the language job did not finish"
    app.run()
    assert not app.exception, app.exception
    yield app, job.snapshot().result
    job.stop(wait=30)


def test_after_a_run_the_page_shows_the_engines_numbers_bars_and_samples(ran):
    app, outcome = ran
    assert isinstance(outcome, lr.LanguageOutcome)
    summary = outcome.summary
    assert [o.seed for o in summary.outcomes] == [0, 1]
    assert summary.config.steps == TINY.steps  # the tiny settings reached the workers
    assert summary.teacher.cached  # trained in a worker (or earlier) and loaded: the server never trains it
    # the engine again, here, one seed after another from the same cached teacher: the same bits
    again = language_seeds(TINY, 2, InProcess(), TeacherCache())
    assert again.teacher.cached
    for mine, theirs in zip(summary.outcomes, again.outcomes):
        assert mine.student.validation_bits == pytest.approx(theirs.student.validation_bits, abs=1e-4)
        assert mine.baseline.validation_bits == pytest.approx(theirs.baseline.validation_bits, abs=1e-4)
    # the verdict: its sentence and its table are the engine's numbers
    sentence = words.verdict_sentence(summary.difference, 2)
    assert sentence in [m.value for m in app.markdown]
    (table,) = [d.value for d in app.dataframe if "KD − scratch" in d.value.columns]
    for row, o in zip(table.itertuples(index=False), summary.outcomes):
        assert row[0] == o.seed
        assert float(row[1]) == pytest.approx(o.student.validation_bits, abs=6e-4)
        assert float(row[2]) == pytest.approx(o.baseline.validation_bits, abs=6e-4)
        assert float(row[3]) == pytest.approx(o.difference, abs=6e-4)
    teacher_bits = f"the teacher's: **{summary.teacher.validation_bits:.3f}**"
    assert [c for c in app.caption if teacher_bits in c.value]
    dots = charts(app)["KD student − scratch student<br>(bits/char; left of 0: KD better)"]
    (seed_dots,) = [t for t in dots["data"] if t["name"] == "one seed"]
    assert seed_dots["x"] == pytest.approx([o.difference for o in summary.outcomes])
    # the bars: each model's distribution after the prefix at the sidebar's T, summing to 1 over the alphabet
    prefix = app.text_input(key="lang_prefix").value
    T = app.session_state["temperature"]
    full = outcome.next_chars(prefix, T)
    assert set(full) == {"teacher", "student", "baseline", "truth"}
    for probs in full.values():
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    bars = next(spec for title, spec in charts(app).items() if title.startswith("Next character after"))
    teacher = next(t for t in bars["data"] if t["name"].startswith("Teacher"))
    char_of = {lf.char_label(c): c for c in full["teacher"]}
    assert teacher["y"] == pytest.approx([full["teacher"][char_of[x]] for x in teacher["x"]], abs=1e-6)
    app.button(key="lang_bars_t_up").click().run()
    T2 = app.session_state["temperature"]
    assert T2 > T
    bars2 = next(spec for title, spec in charts(app).items() if title.startswith("Next character after"))
    assert f"T = {T2:g}" in bars2["layout"]["title"]["text"]
    teacher2 = next(t for t in bars2["data"] if t["name"].startswith("Teacher"))
    assert max(teacher2["y"]) < max(teacher["y"])  # a higher T flattens the teacher's distribution
    # the samples: the three models' texts at the chosen temperature, with their facts
    shown = [c.value for c in app.code]
    expected = lr.samples(outcome, 1.0)
    for name in lr.MODELS:
        assert expected[name].text in shown
    facts = [c.value for c in app.caption if "teacher's bits" in c.value]
    assert len(facts) == 3 and all("grammatical" in f or "entropy" in f for f in facts)


def test_a_prefix_the_corpus_cannot_read_is_a_sentence_not_a_traceback(ran):
    app, _ = ran
    app.text_input(key="lang_prefix").set_value("naïve €").run()
    assert not app.exception
    assert [w.value for w in app.warning if "is not a character of corpus 'grammar'" in w.value]
    app.text_input(key="lang_prefix").set_value("").run()
    assert not app.exception
    assert [w.value for w in app.warning if "a prefix needs at least one character" in w.value]


def test_stop_ends_the_run_as_stopped_with_a_sentence(app, monkeypatch):
    monkeypatch.setattr(lr, "BASE_CONFIG", dataclasses.replace(TINY, teacher_steps=20_000, teacher_seed=7))
    open_tab(app, "Language")
    app.button(key="exp_run_language").click().run()
    job = app.session_state["jobs"]["language"]
    app.button(key="exp_stop_language").click().run()
    assert job.join(60), "the language job did not stop"
    app.run()
    assert not app.exception, app.exception
    assert job.snapshot().status == "cancelled"
    assert [w.value for w in app.warning if w.value.startswith("Language distillation stopped.")]
