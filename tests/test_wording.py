"""What the page says, word by word: the settings line, articles, signs, the full-data button's rule (the sample
picker's choice of images is tests/test_inspection.py's)."""

from __future__ import annotations

import pytest

from dashboard.text import run_settings, verdict, wording
from kd_core import RunConfig
from kd_core.stats import Interval
from kd_core.studies.lessons import LESSONS


def lesson_line(name: str) -> str:
    lesson = LESSONS[name]
    return run_settings.describe(lesson.config(device="cpu"), seeds=run_settings.seeds_text(0, lesson.seeds))


def test_the_settings_line_tells_tiny_student_from_little_data_and_gives_the_epochs_really_trained():
    tiny, little = lesson_line("tiny-student"), lesson_line("little-data")
    assert tiny != little
    assert "with 8 hidden units (its own: 16)" in tiny and "with 16 hidden units" in little
    assert "students see 3 % of the training images" in tiny and "students see 5 % of the training images" in little
    # Equal steps: 20 epochs on all 1,437 images are 23 steps each; 72 images are 2 steps an epoch, so 230 epochs.
    assert "students 230 epochs (as many steps as 20 epochs on all the images)" in little
    assert "teacher 30 epochs" in little and "seeds 0 to 7" in little
    assert "a cosine-annealed learning rate" in little and "schedule" not in little


def test_the_settings_line_names_every_setting_that_differs_from_the_defaults():
    plain = run_settings.describe(RunConfig(device="cpu"))
    assert plain == "mlp-large → mlp-small with 16 hidden units, T = 4, λ = 0.7, teacher 30 epochs, students 20 epochs"
    changed = run_settings.describe(
        RunConfig(
            device="cpu",
            lr=0.003,
            batch_size=32,
            optimizer="sgd",
            loss="seed-script",
            omit_class=8,
            holdout=0.08,
            baseline=False,
        )
    )
    for words in (
        "learning rate 0.003",
        "batches of 32",
        "training with SGD and momentum",
        "divided by the number of classes, then doubled",
        "class 8 hidden from the students",
        "an 8 % validation split",
        "no scratch baseline",
    ):
        assert words in changed, (words, changed)
    assert "KLDivLoss" not in changed and "holdout" not in changed
    mnist = lesson_line("hinton-mnist")
    assert mnist.startswith("MNIST, cnn-dropout → mlp-800") and "teacher images shifted by up to ±2 pixels" in mnist
    # A tab that sets a value itself leaves it out.
    assert "T = " not in run_settings.describe(RunConfig(device="cpu"), skip=("temperature",))


def test_a_lesson_setting_without_a_control_reads_as_words():
    assert run_settings.phrase("holdout", 0.2) == "a 20 % validation split kept from the students"
    assert run_settings.phrase("schedule", "cosine") == "a cosine-annealed learning rate"
    assert run_settings.phrase("schedule", "onecycle") == "a one-cycle learning rate"


@pytest.mark.parametrize(
    "word, expected",
    [
        ("8", "an"),
        ("11", "an"),
        ("18", "an"),
        ("80", "an"),
        ("8 %", "an"),
        ("3", "a"),
        ("1", "a"),
        ("110", "a"),
        ("20 %", "a"),
        ("airplane", "an"),
        ("Ankle boot", "an"),
        ("truck", "a"),
    ],
)
def test_the_article_follows_the_sound(word, expected):
    assert wording.article(word) == expected


def test_acronyms_keep_their_capitals_and_questions_take_no_full_stop():
    assert wording.lower_first("KD student, epoch 3 of 20") == "KD student, epoch 3 of 20"
    assert wording.lower_first("Teacher, epoch 3 of 20") == "teacher, epoch 3 of 20"
    assert wording.sentence("How small can the student get?") == "How small can the student get?"
    assert wording.sentence("KD shines with little data") == "KD shines with little data."


def test_signed_values_round_once_and_zero_has_no_sign_arrow_or_colour():
    assert verdict.points(-0.0004) == "0.0" and verdict.points(0.0004) == "0.0"
    assert verdict.points(-0.004) == "−0.4" and verdict.points(0.043) == "+4.3"
    assert verdict.delta(0.0, 0) == {} and verdict.delta(0.3, 0) == {} and verdict.delta(-0.04) == {}
    up, down = verdict.delta(12.0, 0), verdict.delta(-0.5)
    assert up == {"delta": "+12 points", "delta_color": "green", "delta_arrow": "up"}
    assert down == {"delta": "−0.5 points", "delta_color": "red", "delta_arrow": "down"}


def test_the_full_data_button_belongs_only_where_kd_did_not_help_with_most_of_the_data():
    hurts, helps = Interval.of([-0.01, -0.012, -0.009]), Interval.of([0.03, 0.04, 0.05])
    full = RunConfig(student_fraction=1.0)
    assert verdict.full_data_applies(full, hurts, "free-play")
    assert not verdict.full_data_applies(full, hurts, "full-data")  # already there
    assert not verdict.full_data_applies(full, helps, "free-play")  # KD helped: the question is wrong
    assert not verdict.full_data_applies(RunConfig(student_fraction=0.05), hurts, "little-data")
    assert not verdict.full_data_applies(full.replace(omit_class=3), hurts, "unseen-class")
    assert not verdict.full_data_applies(full.replace(dataset="mnist"), hurts, "hinton-mnist")
    assert not verdict.full_data_applies(full, Interval.of([-0.01]), "free-play")  # one seed decides nothing
