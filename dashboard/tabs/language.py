"""Tab "Language": distil a character-level language model (issue #29), on the built-in sentences or Tiny
Shakespeare, and see what the teacher adds in bits per character.

Its own inputs (corpus, loss, T, λ, on-policy share, seeds) start a background job (dashboard/runs/language.py)
that trains in worker processes, the teacher cached server-wide; the live fragment draws its validation curves.
After the run: the verdict over seeds, the next-character bars after a typed prefix at the Probabilities tab's
instant T, and samples of the three models.  The mode picture (forward KL against reverse KL and JSD(β)) needs no
training and is drawn before any run.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.figures import charts
from dashboard.figures import language as lf
from dashboard.jobs import runner as jobs
from dashboard.page import headings, job_panel, resources
from dashboard.runs import language as lr
from dashboard.tabs import probabilities
from dashboard.text import language as words
from kd_core.config import ConfigError
from kd_core.language.modes import fit_modes
from kd_core.language.train import validate

JOB = "language"
state = st.session_state
LOSSES = ("kd", "reverse-kl", "jsd")


@st.cache_data(show_spinner=False, max_entries=64)
def mode_picture(beta: float):
    """The mode picture at β (a few dozen milliseconds of float64 fits; kept per β)."""
    return fit_modes(betas=(beta,))


def inputs(corpora: list[str]) -> tuple[str, str, float, float, float, float, int]:
    """The tab's few settings, each with what it means."""
    top = st.columns(3)
    corpus = top[0].selectbox(
        "Text", corpora, key="lang_corpus", format_func=words.CORPUS_WORDS.get, help=words.CORPUS_HELP
    )
    loss = top[1].selectbox(
        "Student's loss",
        LOSSES,
        key="lang_loss",
        format_func=words.LOSS_WORDS.get,
        help=words.LOSS_HELP,
    )
    seeds = top[2].number_input(
        "Seeds", 1, 5, value=lr.LANGUAGE_LESSON.seeds, key="lang_seeds", help="Each seed trains a KD and a scratch "
        "student; 2 or more give the verdict an interval (the lesson's claim is over 3).",
    )  # fmt: skip
    low = st.columns(3)
    temperature = low[0].slider(
        "Training temperature T", 0.5, 4.0, 1.0, 0.5, key="lang_T",
        help="The teacher's and student's distributions are both softened by T during training (1: as they are).",
    )  # fmt: skip
    lam = low[1].slider(
        "λ (teacher's weight)", 0.0, 1.0, 1.0, 0.1, key="lang_lam",
        help="1: the student learns from the teacher alone; 0: from the text's next characters alone.",
    )  # fmt: skip
    on_policy = low[2].slider(
        "On-policy share", 0.0, 1.0, 0.0, 0.1, key="lang_on_policy",
        help="The share of batches the student writes itself and the teacher scores (GKD); 0: the text's batches.",
    )  # fmt: skip
    beta = float(state.get("lang_beta", 0.5))  # drawn with the mode picture below
    return corpus, loss, beta, temperature, lam, on_policy, int(seeds)


def launcher(config, seeds: int):
    def launch():
        fn = lr.language_job(config, seeds, resources.teacher_cache(), lr.data_dir())
        return fn, {
            "what": "Language distillation",
            "stopped": "Nothing is kept of a stopped run but a teacher that finished (it is cached).",
            "seeds": [config.seed + i for i in range(seeds)],
        }

    return launch


def draw(snap: jobs.Snapshot | None) -> None:
    """Inside the live fragment: what the tab will show before a run; the live curves while it trains."""
    if snap is None:
        st.info(words.BEFORE_RUN)
        return
    if snap.status == jobs.RUNNING:
        charts.show(lf.curves_figure(lr.curves(snap.events)), key="lang_live_curves")


def verdict(outcome: lr.LanguageOutcome) -> None:
    summary = outcome.summary
    d = summary.difference
    st.markdown(words.verdict_sentence(d, len(summary.outcomes)))
    charts.show(
        lf.seeds_figure([o.difference for o in summary.outcomes], [o.seed for o in summary.outcomes], d.low, d.high,
                        d.mean),
        key="lang_seeds_dots",
    )  # fmt: skip
    table = pd.DataFrame(
        {
            "seed": [o.seed for o in summary.outcomes],
            "KD": [words.bits(o.student.validation_bits) for o in summary.outcomes],  # short: 4 columns fit a phone
            "scratch": [words.bits(o.baseline.validation_bits) for o in summary.outcomes],
            "KD − scratch": [f"{o.difference:+.3f}" for o in summary.outcomes],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")
    teacher = summary.teacher
    trained = "found in the server's cache" if teacher.cached else f"trained in {teacher.seconds:.0f} s"
    truth = (
        ""
        if outcome.truth_bits is None
        else (f" The true distribution scores {outcome.truth_bits:.3f} (on the first 4,096 validation characters).")
    )
    st.caption(
        f"Validation bits per character (lower is better) on text no model trained on, of each seed's KD student "
        f"and scratch student; the teacher's: **{words.bits(teacher.validation_bits)}**. Teacher: "
        f"{teacher.size.layers} layers × {teacher.size.width} wide, {teacher.parameters:,} parameters, {trained}; "
        f"students: {summary.config.student_layers} layer × {summary.config.student_width} wide, "
        f"{summary.outcomes[0].student.parameters:,} parameters, {summary.config.steps} steps each.{truth}"
    )


def bars(outcome: lr.LanguageOutcome) -> None:
    T = float(state.get("temperature", 1.0))
    state.setdefault("lang_prefix", lr.default_prefix(outcome.corpus))
    prefix = st.text_input("Prefix", key="lang_prefix", help="Type the start of a text; the bars show what comes next.")
    probabilities.temperature_control(st, T, key_prefix="lang_")  # the same instant T as the Probabilities tab
    try:
        distributions = outcome.next_chars(prefix, T)
    except ConfigError as error:  # CorpusError: an empty prefix, a character the corpus never uses
        st.warning(f"{error}. Type a prefix of characters from the corpus.")
        return
    charts.show(lf.next_char_figure(distributions, T, prefix), key="lang_next_chars")
    st.caption(words.bars_caption("truth" in distributions, outcome.summary.outcomes[0].seed))


def samples(outcome: lr.LanguageOutcome, job_id: int) -> None:
    temperature = st.slider(
        "Sample temperature", 0.5, 2.0, 1.0, 0.1, key="lang_sample_T",
        help="Below 1 each model writes its likeliest characters; above 1, more freely.",
    )  # fmt: skip
    memo = state.setdefault("lang_samples", {})
    key = (job_id, round(float(temperature), 3))
    if key not in memo:
        with st.spinner("Writing samples…"):
            memo.clear()  # only the samples on screen are kept
            memo[key] = lr.samples(outcome, float(temperature))
    found = memo[key]
    grammar = outcome.corpus.grammar is not None
    names = {"teacher": "Teacher", "student": "KD student", "baseline": "Scratch student"}
    for name, where in zip(lr.MODELS, charts.columns(3)):
        s = found[name]
        where.markdown(f"**{names[name]}**")
        where.code(s.text, language=None, wrap_lines=True)
        facts = [f"entropy {s.entropy_bits:.2f} bits/char", f"teacher's bits {s.judge_bits:.2f}/char"]
        if grammar and s.grammatical is not None:
            facts.append(f"grammatical {100 * s.grammatical:.0f} % of sentences")
        where.caption(" · ".join(facts))
    st.caption(words.sample_caption(float(temperature), grammar))


def results(outcome: lr.LanguageOutcome, job_id: int) -> None:
    headings.section("The verdict over seeds")
    verdict(outcome)
    charts.show(lf.curves_figure(lr.final_curves(outcome.summary), outcome.truth_bits), key="lang_final_curves")
    headings.section("What comes next: the next-character probabilities")
    bars(outcome)
    headings.section("Samples")
    samples(outcome, job_id)


def modes() -> None:
    headings.section("Mode-covering or mode-seeking: the losses, drawn")
    beta = st.slider(
        "β of JSD(β)", 0.0, 1.0, 0.5, 0.1, key="lang_beta",
        help="The teacher's weight in JSD's mixture: 0 is forward KL, 1 reverse KL. The Student's loss JSD(β) "
        "trains with this β too.",
    )  # fmt: skip
    charts.show(lf.modes_figure(mode_picture(float(beta)), float(beta)), key="lang_modes")
    st.caption(words.MODES_CAPTION)


def render() -> None:
    headings.title(words.TITLE)
    st.caption(words.INTRO)
    corpora = lr.corpora()
    if len(corpora) == 1:
        st.caption(words.NO_SHAKESPEARE)
    corpus, loss, beta, temperature, lam, on_policy, seeds = inputs(corpora)
    problem = None
    try:
        config = validate(lr.with_settings(corpus, loss, beta, temperature, lam, on_policy))
    except ConfigError as error:
        config, problem = None, str(error)
        st.error(f"Invalid setting: {problem}")
    job_panel.run_and_stop(JOB, "Distill", launcher(config, seeds), disabled=problem is not None)
    job_panel.live(JOB, draw)
    current = job_panel.job(JOB)
    if current is not None and current.done and isinstance(current.snapshot().result, lr.LanguageOutcome):
        results(current.snapshot().result, current.id)
    modes()
