"""One language distillation, whole: the teacher, the distilled student and the scratch student, their validation
bits per character, their samples, and the models themselves for the page's next-character picture.

    result = run_language(LanguageConfig(), on_event=print)
    result.teacher.validation_bits, result.student.validation_bits, result.baseline.validation_bits
    result.truth_bits                                  # the built-in language's floor: no model can go below it
    result.samples["student"].text
    result.next_chars("the old dogs ", temperature=2.0)  # {"teacher": {...}, "student": {...}, ..., "truth": {...}}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from kd_core.language.corpus import Corpus, load_corpus
from kd_core.language.model import CharTransformer
from kd_core.language.samples import Sample, next_char_distributions, sample_text
from kd_core.language.train import (
    LanguageConfig,
    ModelReport,
    TrainedModel,
    train_student,
    train_teacher,
    validate,
)
from kd_core.runs.cache import TeacherCache
from kd_core.train.records import EventCallback, StopFlag

TRUTH_CHARS = 4096  # the validation text's first characters scored under the true distribution (about 0.2 s)


@dataclass
class LanguageResult:
    """What ``run_language`` returns: reports, samples, and the trained models (``models``, by phase)."""

    config: LanguageConfig
    corpus: Corpus = field(repr=False)
    teacher: ModelReport
    student: ModelReport
    baseline: ModelReport | None
    truth_bits: float | None  # the true distribution's bits/char on the validation text's start (built-in corpus)
    samples: dict[str, Sample]
    models: dict[str, CharTransformer] = field(repr=False)

    @property
    def kd_minus_scratch(self) -> float | None:
        """Validation bits/char of the distilled student minus the scratch one's: below 0, distillation helped."""
        return None if self.baseline is None else self.student.validation_bits - self.baseline.validation_bits

    def next_chars(self, prefix: str, temperature: float = 1.0) -> dict[str, dict[str, float]]:
        """Each model's next-character distribution after ``prefix`` at ``temperature``, and the truth's."""
        return next_char_distributions(prefix, self.corpus, self.models, temperature)

    def to_dict(self) -> dict:
        """The JSON form (no models): config, reports, samples, truth."""
        return {
            "config": self.config.to_dict(),
            "corpus": {"name": self.corpus.name, "characters": self.corpus.characters, "digest": self.corpus.digest},
            "teacher": self.teacher.to_dict(),
            "student": self.student.to_dict(),
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "truth_bits": self.truth_bits,
            "kd_minus_scratch_bits": self.kd_minus_scratch,
            "samples": {name: vars(sample) for name, sample in self.samples.items()},
        }


def truth_bits(corpus: Corpus, characters: int = TRUTH_CHARS) -> float | None:
    """The built-in language's true cross-entropy on the first ``characters`` of the validation text, given the
    text before it (None for a corpus without a known distribution)."""
    if corpus.grammar is None:
        return None
    before = corpus.decode(corpus.train[-200:])
    text = before + corpus.decode(corpus.validation[:characters])
    return corpus.grammar.bits_per_char(text, len(before))


def run_language(
    config: LanguageConfig,
    cache: TeacherCache | None = None,
    on_event: EventCallback | None = None,
    stop: StopFlag | None = None,
    data_dir: str | os.PathLike | None = None,
    baseline: bool = True,
    sample_length: int = 300,
    sample_temperature: float = 1.0,
) -> LanguageResult:
    """Teacher (cached), distilled student and (``baseline``) scratch student of ``config``, then a sample of each
    at ``sample_temperature`` judged by the teacher."""
    config = validate(config)
    corpus = load_corpus(config.corpus, data_dir)
    teacher = train_teacher(config, cache, on_event, stop, data_dir)
    student = train_student(config, teacher, on_event, stop, data_dir)
    scratch: TrainedModel | None = train_student(config, None, on_event, stop, data_dir) if baseline else None
    trained = {"teacher": teacher, "student": student, **({"baseline": scratch} if scratch is not None else {})}
    samples = {
        name: sample_text(t.model, corpus, sample_length, sample_temperature, config.seed, judge=teacher.model)
        for name, t in trained.items()
    }
    return LanguageResult(
        config,
        corpus,
        teacher.report,
        student.report,
        None if scratch is None else scratch.report,
        truth_bits(corpus),
        samples,
        {name: t.model for name, t in trained.items()},
    )
