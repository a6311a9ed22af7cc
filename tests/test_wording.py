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


# ---------------------------------------------------------------- one source of truth per run


def test_an_upload_is_named_by_its_file_and_a_short_hash_never_its_server_path():
    name = "folder:/srv/kd/uploads/508e072389b522d3/d7a65439a05721db/zip/shapes;sha=171d0ec80eab51d3"
    assert run_settings.data_name(name) == "your shapes (sha 171d0ec8)"
    assert run_settings.data_name("csv:/srv/kd/uploads/ab/iris.csv;label=kind;sha=27435a50b154180c") == (
        "your iris.csv (sha 27435a50)"
    )
    assert run_settings.data_name("folder:/srv/kd/uploads/ab/cd/zip;sha=171d0ec80eab51d3").startswith("your images")
    assert run_settings.data_name("mnist") == "MNIST" and run_settings.data_name("digits") == "digits"
    assert run_settings.examples("csv:/srv/iris.csv;sha=27435a50b154180c") == "rows"
    assert run_settings.examples("digits") == run_settings.examples(name) == "images"


def test_the_settings_line_of_an_upload_names_no_path_and_counts_what_the_students_saw(tmp_path):
    from own_data_support import image_folder

    root = image_folder(tmp_path / "srv" / "uploads" / "shapes", per_class=30)
    line = run_settings.describe(RunConfig(dataset=f"folder:{root}", device="cpu", student_fraction=0.3, lam=0.5))
    assert line.startswith("your shapes (sha ") and str(tmp_path) not in line and "uploads" not in line
    # 90 images, 72 for training (24 of each class): 30 % of each class is 7.
    assert "students see 30 % of the training images (21 of 72)" in line
    assert "cnn-large → cnn-small" in line and "teacher 10 epochs" in line


def test_a_teacher_file_has_no_teacher_epochs_in_the_settings_line(tmp_path):
    import torch

    from dashboard.runs import exports
    from kd_core import build_model

    (tmp_path / "mine.onnx").write_bytes(
        exports.onnx_bytes(build_model("mlp-small", (1, 8, 8), 10), torch.zeros(1, 1, 8, 8))
    )
    line = run_settings.describe(RunConfig(teacher=f"onnx:{tmp_path / 'mine.onnx'}", device="cpu", teacher_epochs=10))
    assert line.startswith("your mine.onnx → mlp-small")
    assert "teacher used as it is (sha " in line and "not trained here" in line
    assert "teacher 10 epochs" not in line and "teacher 30 epochs" not in line and str(tmp_path) not in line


def test_a_size_ratio_says_larger_when_the_student_is_larger():
    # hinton-mnist's models: a 824,458-parameter CNN teacher and a 1,276,810-parameter MLP student.
    assert run_settings.size_ratio(4 * 824_458, 4 * 1_276_810) == "1.5× larger"
    assert run_settings.size_ratio(4 * 543_619, 4 * 6_227) == "87.3× smaller"
    assert run_settings.size_ratio(400, 400) == "the same size"
    assert run_settings.size_ratio(0, 400) == "—"  # an unknown size is no ratio at all


def test_near_zero_and_what_one_image_is_worth_scale_with_the_test_set():
    # +0.6 points on MNIST's 10,000 test images is 60 images: no "near zero"; on the digits' 360 it is about 2.
    assert not verdict.near_zero(0.006, 10_000) and verdict.near_zero(0.006, 360)
    assert verdict.near_zero(-0.083, 18)  # 1.5 of 18 test images
    assert not verdict.near_zero(0.028, 360)  # 10 images
    assert verdict.in_images(0.006, 10_000) == "+0.6 points is 60 more of the 10,000 test images right"
    assert verdict.in_images(-0.0833, 18) == "−8.3 points is 1.5 fewer of the 18 test images right"
    assert verdict.in_images(-0.075, 40, "rows") == "−7.5 points is 3 fewer of the 40 test rows right"
    assert verdict.coarse(18) and verdict.coarse(100) and not verdict.coarse(360)
    assert run_settings.worth_sentence(18, [6, 6, 6]) == (
        "Your 18 test images (6 of each class) make one image worth 5.6 points of accuracy."
    )
    assert (
        run_settings.test_set_text(18, [6, 6, 6])
        == "18 test images (6 of each class): one image is 5.6 points of accuracy"
    )
    assert run_settings.test_set_text(360, [35, 37], "images").endswith(
        "(35–37 of each class): one image is 0.28 points of accuracy"
    )
    assert run_settings.test_set_text(30, [10, 10, 10], "rows").startswith(
        "30 test rows (10 of each class): one row is 3.3"
    )


def test_why_lambda_matches_the_verdict_and_the_loss_in_use():
    copying = {"epoch": 9, "soft": 8.7, "hard": 0.5, "weighted_soft": 4.35, "weighted_hard": 0.25, "soft_share": 0.95}
    labels = {"epoch": 9, "soft": 0.1, "hard": 1.0, "weighted_soft": 0.05, "weighted_hard": 0.5, "soft_share": 0.09}
    both = {"epoch": 9, "soft": 0.3, "hard": 0.5, "weighted_soft": 0.15, "weighted_hard": 0.25, "soft_share": 0.39}
    # KD 7.5 points behind: never "it fits the labels anyway", but what copying the teacher costs.
    behind = verdict.balance_text(copying, 0.5, "hurts")
    assert "fits the labels anyway" not in behind and "costs this student accuracy" in behind
    assert "moving λ changes little" in verdict.balance_text(copying, 0.5, "no clear difference")
    # "Try the correct loss" only where another loss was used.
    assert "correct loss" not in verdict.balance_text(labels, 0.5, "no clear difference", "kd")
    assert "try a larger λ, or the correct loss" in verdict.balance_text(labels, 0.5, None, "kd-no-t2")
    assert "below zero" in verdict.balance_text(both, 0.5, "hurts")
    assert "still near zero" in verdict.balance_text(both, 0.5, "no clear difference")
