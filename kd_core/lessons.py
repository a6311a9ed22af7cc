"""Lessons: named settings whose effect is real in every seed, each with two sentences on what to look for.

    kd-train --lesson little-data          # the lesson's settings; explicit flags override them
    kd-train --list-lessons

A lesson is one entry in ``LESSONS``.  Its claim is measured over seeds by benchmarks/measure_lessons.py and
checked by tests/test_lessons.py, so what the page and the README say is what the product does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import RunConfig


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    look_for: str  # two sentences: what to look for, and why it happens
    settings: dict[str, Any]  # RunConfig fields that differ from the defaults
    seeds: int  # how many seeds its claim is made over
    verdicts: tuple[str, ...]  # what the verdict over ``seeds`` seeds is, from any start seed (its claim)
    controls: tuple[str, ...] = ()  # the settings this lesson is about (a lesson link may show only these)

    def config(self, **overrides) -> RunConfig:
        """The lesson's settings, with ``overrides`` (explicit flags, moved sliders) on top."""
        return RunConfig(**{**self.settings, **overrides})


LITTLE_DATA = {"student_fraction": 0.05, "temperature": 4.0, "lam": 0.5}

LESSONS: dict[str, Lesson] = {lesson.name: lesson for lesson in (
    Lesson(
        "little-data", "KD shines with little data",
        "The students see only 5 % of the training images (72 of 1,437); the teacher saw them all. The KD student "
        "learns from the teacher's soft targets what those few labels cannot say — which digits look alike — and "
        "beats the same model trained from scratch.",
        LITTLE_DATA, seeds=8, verdicts=("helps",), controls=("temperature", "lam", "student_fraction", "seed"),
    ),
    Lesson(
        "temperature", "What the temperature does",
        "The same little-data students, distilled at T = 1: the teacher's softmax is nearly one-hot, so the soft "
        "targets say little more than the labels and KD is no better than scratch. Move T to 4 and Distill again: "
        "the runner-up probabilities (the dark knowledge) appear, and so does KD's lead.",
        {**LITTLE_DATA, "temperature": 1.0}, seeds=8, verdicts=("no clear difference",),
        controls=("temperature", "seed"),
    ),
    Lesson(
        "unseen-class", "A class the student never sees",
        "The students never see a single 3; the teacher saw every class. The scratch student can never answer 3, "
        "but the KD student learns what a 3 looks like from how much the teacher's other digits resemble one — "
        "and after raising its 3-bias (chosen on held-out data, not the test set) recognises most test 3s.",
        {"omit_class": 3, "student": "mlp-wide", "temperature": 20.0, "lam": 1.0, "epochs": 50, "holdout": 0.2},
        seeds=5, verdicts=("helps",), controls=("omit_class", "temperature", "lam", "seed"),
    ),
    Lesson(
        "tiny-student", "How small can the student get?",
        "A student of 8 hidden units (610 parameters, 139× smaller than the teacher) on 5 % of the data still "
        "gains from the teacher. Move the student width down to 2 and KD stops helping: a net that small cannot "
        "hold what the teacher knows; the sweep tab draws the whole curve (sweep: student width).",
        {**LITTLE_DATA, "student_width": 8}, seeds=10, verdicts=("helps",), controls=("student_width", "seed"),
    ),
    Lesson(
        "hinton-mnist", "Hinton's MNIST table, on a laptop",
        "The paper's setting, scaled to minutes: a big MLP teacher regularised with dropout, and a smaller MLP "
        "student trained from scratch and by distillation at T = 20, reported as test errors out of 10,000 as in "
        "the paper (67 / 146 / 74). Compare how close a few epochs come — the paper trained for hours with jitter.",
        {"dataset": "mnist", "teacher": "mlp-dropout", "student": "mlp-800", "teacher_epochs": 8, "epochs": 8,
         "temperature": 20.0, "lam": 0.7, "lr": 1e-3, "batch_size": 128},
        seeds=1, verdicts=("no clear difference",), controls=("temperature", "lam"),
    ),
    Lesson(
        "full-data", "With all the data, KD gives nothing here",
        "With all 1,437 training images the 1,210-parameter student learns digits on its own, and the teacher knows "
        "barely more than it does (about 97 % against 96 %). So KD − baseline straddles zero: there is no dark "
        "knowledge left to add, and the page says so rather than show noise as a result.",
        {}, seeds=8, verdicts=("no clear difference", "hurts"), controls=("temperature", "lam", "seed"),
    ),
)}


def lesson_names() -> list[str]:
    return list(LESSONS)
