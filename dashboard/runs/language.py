"""The Language tab's job and what its figures are made of: a teacher, KD students and scratch students over seeds.

    language_job(config, seeds, cache) -> fn(on_event, stop) -> LanguageOutcome     # a job for dashboard/jobs/runner
    curves(events) -> {(index, phase): ([step], [bits/char])}                       # live validation curves
    outcome.next_chars("the dog", T), samples(outcome, T)                            # bars and samples, after a run

Training happens in worker processes (``LocalProcesses(..., in_process_when_alone=False)``), never in the server's
interpreter: the teacher in a worker (``teacher_task``) that stores it in the server's on-disk teacher cache, then
``kd_core.language.seeds.language_seeds`` loads it from there and trains each seed's KD student and scratch student
in a worker.  The first seed's students come back as weights and
are rebuilt here, so the next-character bars and samples need no training.  No Streamlit here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Callable

from dashboard.jobs import runner as jobs
from kd_core.data.datasets import default_data_dir
from kd_core.execution.executors import LocalProcesses
from kd_core.language.corpus import SHAKESPEARE_FILE, Corpus, load_corpus
from kd_core.language.lesson import LANGUAGE_LESSON
from kd_core.language.model import CharTransformer
from kd_core.language.results import truth_bits
from kd_core.language.samples import Sample, next_char_distributions, sample_text
from kd_core.language.seeds import LanguageSeeds, language_seeds, teacher_task
from kd_core.language.train import LanguageConfig, train_teacher, validate
from kd_core.runs.cache import TeacherCache
from kd_core.train.loop import Cancelled
from kd_core.train.records import ProgressEvent

# The settings every Language run starts from (the lesson's): the tab changes only loss, T, λ, on-policy, corpus.
BASE_CONFIG = LANGUAGE_LESSON.config()
SAMPLE_LENGTH = 200  # characters of each sample the page writes (about a second for the three models together)
MODELS = ("teacher", "student", "baseline")


@dataclass(frozen=True)
class LanguageEvent:
    """One progress event of the job: ``index`` −1 is the teacher, else the seed's index; the status line reads
    ``fraction`` and ``text`` (dashboard/runs/experiments.py ``progress``)."""

    index: int
    event: ProgressEvent
    fraction: float
    text: str


@dataclass
class LanguageOutcome:
    """A finished run: the engine's summary over seeds, the corpus, and the first seed's three models."""

    summary: LanguageSeeds
    corpus: Corpus = field(repr=False)
    models: dict[str, CharTransformer] = field(repr=False)
    truth_bits: float | None = None  # the built-in language's own bits/char on the validation text's start

    @property
    def config(self) -> LanguageConfig:
        return self.summary.config

    def next_chars(self, prefix: str, temperature: float) -> dict[str, dict[str, float]]:
        """Teacher's, KD student's and scratch student's (first seed) next-character probabilities at T, and
        the truth's where the corpus has one; CorpusError for an empty prefix or an unknown character."""
        return next_char_distributions(prefix, self.corpus, self.models, temperature)


def data_dir() -> str | None:
    """The server's data folder ($KD_DATA_DIR), or None for the default."""
    return os.environ.get("KD_DATA_DIR") or None


def corpora() -> list[str]:
    """The corpora this server can train on: the built-in one, and Tiny Shakespeare when its file is here."""
    root = data_dir() or default_data_dir()
    return ["grammar"] + (["tinyshakespeare"] if os.path.isfile(os.path.join(root, SHAKESPEARE_FILE)) else [])


def planned(config: LanguageConfig, seeds: int) -> int:
    """Training steps of the whole run: the teacher's, then two students per seed."""
    return config.teacher_steps + 2 * seeds * config.steps


NAMES = {"teacher": "teacher", "student": "KD student", "baseline": "scratch student"}


def language_job(
    config: LanguageConfig, seeds: int, cache: TeacherCache, data_folder: str | None = None
) -> Callable[..., LanguageOutcome | None]:
    """A job: ``config``'s teacher and its students over ``seeds`` seeds in worker processes; its events are
    ``LanguageEvent``s.  ``config`` is checked here (ConfigError, one line) before the job starts."""
    config = validate(config)

    def fn(on_event, stop) -> LanguageOutcome | None:
        total = planned(config, seeds)
        done: dict[tuple[int, str], int] = {}

        def relay(index: int, event) -> None:
            if not isinstance(event, ProgressEvent):
                return
            if event.phase == "teacher" and event.steps == 0:  # a cached teacher's curve, replayed
                if (index, event.phase) in done:
                    return  # the teacher just trained in a worker, loaded again: its curve is drawn already
                done[(index, event.phase)] = config.teacher_steps
            else:
                done[(index, event.phase)] = event.step
            who = NAMES.get(event.phase, event.phase) + ("" if index < 0 else f", seed {config.seed + index}")
            text = f"{who}: step {event.step} of {event.steps}" if event.steps else f"{who}: from the cache"
            on_event(LanguageEvent(index, event, min(1.0, sum(done.values()) / total), text))

        with jobs.extra_slots(max(0, min(seeds, os.cpu_count() or 1) - 1)) as more:
            executor = LocalProcesses(1 + more, threads=1, in_process_when_alone=False)
            try:
                if cache.on_disk:  # the teacher too trains in a worker; the job then loads it from the cache
                    executor.map(teacher_task, [(config, cache.folder, data_folder)], lambda _, e: relay(-1, e), stop)
                summary = language_seeds(config, seeds, executor, cache, relay, stop, data_folder)
            except Cancelled:
                return None
        return outcome_of(summary, cache, data_folder)

    return fn


def outcome_of(summary: LanguageSeeds, cache: TeacherCache, data_folder: str | None = None) -> LanguageOutcome:
    """The summary with its corpus and the first seed's models (the teacher from the cache, the students rebuilt)."""
    config = summary.config
    corpus = load_corpus(config.corpus, data_folder)
    teacher = train_teacher(config, cache, None, None, data_folder)  # in the cache: the run just put it there
    models = {"teacher": teacher.model}
    first = summary.outcomes[0]
    for name in ("student", "baseline"):
        model = CharTransformer(corpus.vocabulary, config.context, config.student_size)
        model.load_state_dict(first.states[name])
        model.eval()
        models[name] = model
    return LanguageOutcome(summary, corpus, models, truth_bits(corpus))


def default_prefix(corpus: Corpus, length: int = 20) -> str:
    """A prefix to start from: the validation text's first sentence start (after its first ". "), ``length``
    characters of it cut after a space (on the built-in corpus, the start of a sentence: its truth is known)."""
    text = corpus.validation_text()[: 4 * length]
    start = text.find(". ")
    text = text[start + 2 if start >= 0 else 0 :][:length]
    cut = text.rfind(" ")
    return text[: cut + 1] if cut > 0 else text


def samples(outcome: LanguageOutcome, temperature: float, length: int = SAMPLE_LENGTH) -> dict[str, Sample]:
    """A sample of each of the first seed's models at ``temperature``, judged by the teacher (and the grammar)."""
    judge = outcome.models["teacher"]
    seed = outcome.summary.outcomes[0].seed
    return {
        name: sample_text(outcome.models[name], outcome.corpus, length, temperature, seed, judge=judge)
        for name in MODELS
    }


Curves = dict[tuple[int, str], tuple[list[int], list[float]]]


def curves(events: list) -> Curves:
    """Validation bits per character at each evaluation round, per (seed index, phase): the live curves (a teacher
    found in the cache has none here: ``final_curves`` has its stored ones)."""
    out: Curves = {}
    for e in events:
        if not isinstance(e, LanguageEvent) or e.event.kind != "epoch":
            continue
        bits = e.event.parts.get("validation_bits")
        if bits is None:
            continue
        xs, ys = out.setdefault((e.index, e.event.phase), ([], []))
        xs.append(e.event.step)
        ys.append(float(bits))
    return out


def final_curves(summary: LanguageSeeds) -> Curves:
    """The same curves from a finished run's reports: the teacher's (stored with it when cached) and every seed's."""
    out: Curves = {(-1, "teacher"): _points(summary.teacher)}
    for index, o in enumerate(summary.outcomes):
        out[(index, "student")] = _points(o.student)
        out[(index, "baseline")] = _points(o.baseline)
    return out


def _points(report) -> tuple[list[int], list[float]]:
    return [e.step for e in report.evaluations], [e.validation_bits for e in report.evaluations]


def with_settings(
    corpus: str, loss: str, beta: float, temperature: float, lam: float, on_policy: float
) -> LanguageConfig:
    """The base settings with the tab's inputs (β only for JSD)."""
    args = (("beta", beta),) if loss == "jsd" else ()
    return dataclasses.replace(
        BASE_CONFIG, corpus=corpus, loss=loss, loss_args=args, temperature=temperature, lam=lam, on_policy=on_policy
    )
