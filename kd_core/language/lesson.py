"""The language lesson: on the built-in corpus, a distilled character model beats the same model trained alone.

    LANGUAGE_LESSON.config()                       # the lesson's LanguageConfig (the engine's defaults)
    outcome = run_lesson(start_seed=0)             # its students over its seeds, from a start seed
    outcome.verdict == LANGUAGE_LESSON.verdict     # its claim: KD helps, in validation bits per character

Its claim is the engine's measurement (kd_core/language/train.py's defaults): forward KL at T = 1 and λ = 1, the
student asked for the teacher's whole next-character distribution, lowers the validation bits per character of a
1-layer, 48-wide student below those of the same student trained on the characters alone, over 3 seeds.  Bits per
character are lower-is-better: "helps" means the whole 95 % interval of KD − scratch is below 0.  It is checked
from several start seeds (tests/test_language_cli.py, slow tier), so it is a finding, not one lucky seed.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from kd_core.execution.workers import Executor
from kd_core.language.seeds import LanguageSeeds, language_seeds
from kd_core.language.train import LanguageConfig
from kd_core.runs.cache import TeacherCache
from kd_core.stats import Verdict
from kd_core.train.records import StopFlag


@dataclass(frozen=True)
class LanguageLesson:
    """A lesson on language distillation: its settings, the seeds its claim is made over, and the claim."""

    name: str
    title: str
    look_for: str  # what to look for, and why it happens
    settings: dict[str, Any] = field(default_factory=dict)  # LanguageConfig fields that differ from the defaults
    seeds: int = 3
    verdict: Verdict = "helps"  # KD − scratch's verdict over ``seeds`` seeds, from any start seed it is checked at

    def config(self, **overrides) -> LanguageConfig:
        """The lesson's settings, with ``overrides`` on top."""
        return LanguageConfig(**{**self.settings, **overrides})


LANGUAGE_LESSON = LanguageLesson(
    name="language",
    title="Distil a language model",
    look_for=(
        "The distilled student's validation bits per character end below the scratch student's: it was asked for "
        "the teacher's whole next-character distribution, which says which continuations are plausible and how "
        "much, where the text shows only the one that happened."
    ),
    settings={"corpus": "grammar"},
    seeds=3,
    verdict="helps",
)


def run_lesson(
    start_seed: int = 0,
    lesson: LanguageLesson = LANGUAGE_LESSON,
    executor: Executor | None = None,
    cache: TeacherCache | None = None,
    on_event=None,
    stop: StopFlag | None = None,
    data_dir: str | os.PathLike | None = None,
    **overrides,
) -> LanguageSeeds:
    """The lesson's students over its seeds, from ``start_seed`` (the teacher is the lesson's, whatever the seed)."""
    config = dataclasses.replace(lesson.config(**overrides), seed=start_seed)
    return language_seeds(config, lesson.seeds, executor, cache, on_event, stop, data_dir)
