"""Over seeds: does distillation help a language student?  KD − scratch in validation bits per character, with its
95 % interval (kd_core/stats.py), the students' seeds run side by side through the project's executors.

    summary = language_seeds(LanguageConfig(), seeds=3, executor=make_executor("local", jobs=2))
    summary.difference.mean, summary.difference.low, summary.difference.high, summary.verdict

The teacher is trained (or found in the cache) once, here, and handed to every seed's task as its weights: every
seed's two students learn from the same teacher, so the paired difference measures the students alone.  Each task
trains its two students on one torch thread and has each write a sample, judged by the teacher (and, on the
built-in corpus, by the grammar).  Bits per character are lower-is-better, so distillation *helps* when
the whole interval of KD − scratch is below 0 (the opposite sign of the classifiers' accuracy gains).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from kd_core.execution.workers import Executor, IndexedCallback, InProcess
from kd_core.language.corpus import anywhere, load_corpus
from kd_core.language.model import CharTransformer
from kd_core.language.samples import Sample, sample_text
from kd_core.language.train import LanguageConfig, ModelReport, TrainedModel, train_student, train_teacher, validate
from kd_core.runs.cache import TeacherCache
from kd_core.stats import Interval, Verdict
from kd_core.train.records import StopFlag

SAMPLE_LENGTH = 300  # characters each student writes at T = 1 (about a second to write and have judged)


@dataclass(frozen=True)
class SeedOutcome:
    """One seed's two students."""

    seed: int
    student: ModelReport
    baseline: ModelReport
    student_sample: Sample  # SAMPLE_LENGTH characters at T = 1, judged by the teacher
    baseline_sample: Sample
    # the two students' weights ("student", "baseline"): the page draws their next-character bars from them
    states: dict[str, dict] = field(default_factory=dict, repr=False, compare=False)

    @property
    def difference(self) -> float:
        """KD − scratch, validation bits per character (below 0: distillation helped)."""
        return self.student.validation_bits - self.baseline.validation_bits


@dataclass(frozen=True)
class LanguageSeeds:
    """Every seed's outcome, the teacher's report, and KD − scratch over the seeds with its interval."""

    config: LanguageConfig
    teacher: ModelReport
    outcomes: tuple[SeedOutcome, ...]
    difference: Interval  # of KD − scratch in bits/char, paired by seed

    @property
    def verdict(self) -> Verdict:
        """ "helps" when the whole interval of KD − scratch is below 0 bits/char, "hurts" when above."""
        if self.difference.high is not None and self.difference.high < 0:
            return "helps"
        if self.difference.low is not None and self.difference.low > 0:
            return "hurts"
        return "no clear difference"

    def to_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "teacher_bits": self.teacher.validation_bits,
            "seeds": [
                {
                    "seed": o.seed,
                    "kd_bits": o.student.validation_bits,
                    "scratch_bits": o.baseline.validation_bits,
                    "kd_seconds": o.student.seconds,
                    "scratch_seconds": o.baseline.seconds,
                    "kd_sample": vars(o.student_sample),
                    "scratch_sample": vars(o.baseline_sample),
                }
                for o in self.outcomes
            ],
            "kd_minus_scratch_bits": self.difference.to_dict(),
            "verdict": self.verdict,
        }


def teacher_task(item: tuple, on_event, stop: StopFlag | None) -> ModelReport:
    """The teacher of ``config``, trained in a worker process and stored in the on-disk teacher cache at ``folder``
    (or found there), so that a server's own interpreter never trains it: ``language_seeds`` then loads it.
    ``item``: (config, the cache's folder, the data folder)."""
    config, folder, data_dir = item
    return train_teacher(config, TeacherCache(folder), on_event, stop, data_dir).report


def seed_task(item: tuple, on_event, stop: StopFlag | None) -> SeedOutcome:
    """One seed's KD student and scratch student (a module-level task: it runs in a worker process).
    ``item``: (config, the teacher's state dict, its report, its cache key, the data folder)."""
    config, teacher_state, teacher_report, key, data_dir = item
    corpus = load_corpus(config.corpus, data_dir)
    model = CharTransformer(corpus.vocabulary, config.context, config.teacher_size)
    model.load_state_dict(teacher_state)
    model.eval()
    teacher = TrainedModel(model, teacher_report, key)
    student = train_student(config, teacher, on_event, stop, data_dir)
    scratch = train_student(config, None, on_event, stop, data_dir)
    samples = [sample_text(m.model, corpus, SAMPLE_LENGTH, 1.0, config.seed, judge=model) for m in (student, scratch)]
    states = {name: m.model.state_dict() for name, m in (("student", student), ("baseline", scratch))}
    return SeedOutcome(config.seed, student.report, scratch.report, *samples, states=states)


def language_seeds(
    config: LanguageConfig,
    seeds: int = 3,
    executor: Executor | None = None,
    cache: TeacherCache | None = None,
    on_event: IndexedCallback | None = None,
    stop: StopFlag | None = None,
    data_dir: str | os.PathLike | None = None,
) -> LanguageSeeds:
    """Seeds ``config.seed`` … ``config.seed + seeds − 1`` of the students, side by side on ``executor`` (default:
    one after another in this process); ``on_event(index, event)`` gets the teacher's events with index −1 and each
    seed's with its index."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    config = validate(config)
    teacher = train_teacher(config, cache, None if on_event is None else (lambda e: on_event(-1, e)), stop, data_dir)
    state = {name: tensor.detach().clone() for name, tensor in teacher.model.state_dict().items()}
    corpus, where = anywhere(config.corpus, data_dir)  # a task may run in another folder (on Ray)
    items = [
        (dataclasses.replace(config, seed=config.seed + i, corpus=corpus), state, teacher.report, teacher.key, where)
        for i in range(seeds)
    ]
    outcomes = (executor or InProcess()).map(seed_task, items, on_event, stop)
    difference = Interval.of([outcome.difference for outcome in outcomes])
    return LanguageSeeds(config, teacher.report, tuple(outcomes), difference)
