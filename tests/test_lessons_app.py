"""The page's lessons, Distill over several seeds and its verdict, the loss toggle (AppTest, headless)."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_support import charts, finish, history_column, main_job, open_tab
from streamlit.testing.v1 import AppTest

from kd_core.studies.lessons import LESSONS


def fast(at: AppTest, seeds: int = 3) -> AppTest:
    """Tiny epochs, so a Distill over seeds takes seconds."""
    at.slider(key="teacher_epochs").set_value(2).run()
    at.slider(key="epochs").set_value(2).run()
    return at.slider(key="seeds").set_value(seeds).run()


def test_the_page_opens_on_the_little_data_lesson_with_its_controls_set(app):
    lesson = LESSONS["little-data"]
    assert app.selectbox(key="lesson").value == "little-data"
    assert app.select_slider(key="student_fraction").value == pytest.approx(lesson.settings["student_fraction"])
    assert app.slider(key="temperature").value == pytest.approx(lesson.settings["temperature"])
    assert app.slider(key="lam").value == pytest.approx(lesson.settings["lam"])
    assert app.slider(key="seeds").value == lesson.seeds  # the claim is made over these seeds
    assert any(lesson.title in i.value and lesson.look_for in i.value for i in app.info)
    options = app.selectbox(key="lesson").options
    assert [o for o in options][: len(LESSONS)] == [each.title for each in LESSONS.values()]
    assert "Free play" in options[-1]
    assert not app.error


def test_switching_lesson_sets_every_control_and_they_still_move(app):
    app.slider(key="temperature").set_value(9).run()
    app.selectbox(key="lesson").set_value("full-data").run()
    assert app.select_slider(key="student_fraction").value == 1.0
    assert app.slider(key="temperature").value == pytest.approx(LESSONS["full-data"].settings.get("temperature", 4.0))
    assert any(LESSONS["full-data"].look_for in i.value for i in app.info)
    app.slider(key="lam").set_value(0.3).run()  # the user can still move a control afterwards
    assert app.slider(key="lam").value == pytest.approx(0.3) and app.selectbox(key="lesson").value == "full-data"
    app.selectbox(key="lesson").set_value("free-play").run()
    assert app.slider(key="seeds").value == 3 and app.slider(key="lam").value == pytest.approx(
        0.7
    )  # the plain defaults
    assert not any("Lesson:" in i.value for i in app.info)
    app.selectbox(key="lesson").set_value("little-data").run()
    assert app.select_slider(key="student_fraction").value == pytest.approx(
        LESSONS["little-data"].settings["student_fraction"]
    )


def test_a_distill_over_three_seeds_shows_a_verdict_an_interval_and_a_history_row(app):
    fast(app, seeds=3)
    app.button(key="distill").click().run()
    assert main_job(app).meta["seeds"] == [0, 1, 2]
    finish(app)
    assert not app.exception and not app.error
    texts = [m.value for m in app.markdown]
    verdicts = [t for t in texts if any(v in t for v in ("KD helps", "No clear difference", "KD hurts"))]
    assert verdicts, texts[:5]
    headline = next(t for t in texts if t.startswith("**KD − baseline:"))
    assert "95 % interval" in headline and "over 3 seeds" in headline
    gain = charts(app)["KD − baseline per seed (points)"]
    dots = next(t for t in gain["data"] if t.get("name") == "one seed")
    assert len(dots["x"]) == 3 and any(t.get("name") == "95 % interval" for t in gain["data"])
    metrics = {m.label: m.value for m in app.metric}
    assert {"Teacher accuracy", "KD student accuracy", "Scratch baseline accuracy", "KD − baseline", "Speed-up"} <= set(
        metrics
    )
    last = lambda key: history_column(app, key)[-1]  # noqa: E731  (the History table's newest row)
    assert last("seeds") == 3 and last("verdict") in ("KD helps", "No clear difference", "KD hurts")
    assert last("interval_low_points") <= last("kd_minus_baseline_points") <= last("interval_high_points")
    # The report's agreement is the same quantity as History's column of that name: the mean over the seeds.
    assert float(metrics["Student–teacher agreement"].rstrip("%")) == pytest.approx(last("agreement_%"), abs=0.051)
    assert "(" in metrics["Speed-up"] and "–" in metrics["Speed-up"]  # latency is shown with its range over rounds
    assert any(c.value.startswith("The curves are seed 0's") for c in app.caption)
    # "Why does KD not help with all the data?" belongs under full-data reports where KD did not help, not here.
    assert "full_data_lesson" not in [b.key for b in app.button]
    # Another lesson chosen: the report says whose it is, and how to get this lesson's.
    assert not any("previous lesson" in w.value for w in app.warning)
    app.selectbox(key="lesson").set_value("full-data").run()
    assert app.select_slider(key="student_fraction").value == 1.0
    marked = [w.value for w in app.warning if "previous lesson" in w.value]
    assert (
        marked and "“KD shines with little data”" in marked[0] and "Click **Distill** to run this lesson" in marked[0]
    )


def test_one_seed_says_it_cannot_decide(app):
    fast(app, seeds=1)
    app.button(key="distill").click().run()
    finish(app)
    texts = [m.value for m in app.markdown]
    assert any("One seed cannot decide" in t for t in texts)
    assert any(t.startswith("**KD − baseline:") and "from one seed" in t for t in texts)
    assert history_column(app, "verdict") == ["One seed cannot decide"]


def test_the_loss_toggle_explains_the_soft_weight_and_the_report_names_the_loss(app):
    app.selectbox(key="loss").set_value("seed-script").run()
    app.slider(key="lam").set_value(0.7).run()
    text = " ".join(m.value for m in open_tab(app, "What is happening").markdown)
    assert "0.2× the weight it should" in text and "λ = 0.7" in text and "the labels dominate" in text
    assert "as the seed script wrote it: divided by the number of classes, then doubled** ← chosen" in text
    assert "KLDivLoss" not in text  # in words, not the seed's code
    app.slider(key="temperature").set_value(5).run()
    assert "1/T² = 1/25" in " ".join(m.value for m in app.markdown)
    fast(app, seeds=2)
    open_tab(app, "Distill")
    app.button(key="distill").click().run()
    finish(app)
    assert any("This run used the loss **as the seed script wrote it" in w.value for w in app.warning)
    assert history_column(app, "loss") == ["seed-script"]


def test_at_lambda_zero_the_page_says_the_labels_do_all_the_pulling(app):
    fast(app, seeds=2)
    app.slider(key="lam").set_value(0.0).run()
    app.button(key="distill").click().run()
    finish(app)
    assert any("No clear difference" in m.value for m in app.markdown)
    why = [c.value for c in app.caption if "Why λ may change little" in c.value]
    assert why and "(1 − λ)·hard" in why[0] and "barely pull" in why[0]


def test_every_lesson_sets_its_controls_without_an_exception(app):
    for name, lesson in LESSONS.items():
        app.selectbox(key="lesson").set_value(name).run()
        assert not app.exception, (name, app.exception)
        for field in ("temperature", "lam"):
            if field in lesson.settings:
                assert app.slider(key=field).value == pytest.approx(lesson.settings[field]), (name, field)
        for field in ("teacher", "student", "omit_class", "dataset"):
            if field in lesson.settings:
                assert app.selectbox(key=field).value == lesson.settings[field], (name, field)
        assert any(lesson.look_for in i.value for i in app.info), name


def test_the_student_width_follows_the_architecture_and_the_tiny_student_lesson(app):
    from kd_core import DATASETS, build_model, count_params

    width = app.select_slider(key="student_width")
    assert width.value == 16 and "Student width (hidden units / channels)" in width.label
    assert {1, 2, 4, 8, 16, 32, 64, 128, 256} <= set(int(o) for o in width.options)
    app.selectbox(key="lesson").set_value("tiny-student").run()
    assert app.select_slider(key="student_width").value == 8
    assert not any("student_width" in i.value for i in app.info)  # a control, so not listed as a hidden setting
    app.selectbox(key="student").set_value("mlp-wide").run()
    assert app.select_slider(key="student_width").value == 256  # a new architecture starts at its own width
    app.select_slider(key="student_width").set_value(4).run()
    fast(app, seeds=1)
    app.button(key="distill").click().run()
    assert main_job(app).meta["config"].student_width == 4
    finish(app)
    spec = DATASETS["digits"]
    params = count_params(build_model("mlp-wide", spec.input_shape, spec.num_classes, 4))
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Parameters: teacher / student"].endswith(f"/ {params:,}")


def test_the_unseen_class_report_shows_the_hidden_class_over_seeds_and_where_the_bias_came_from(app):
    app.selectbox(key="lesson").set_value("unseen-class").run()
    assert app.selectbox(key="omit_class").value == 3
    fast(app, seeds=2)
    app.button(key="distill").click().run()
    finish(app)
    assert not app.exception and not app.error
    metrics = {m.label: m.value for m in app.metric}
    for label in ("KD student on class 3", "Scratch baseline on class 3", "KD student after bias correction"):
        assert metrics[label].endswith(" %"), (label, metrics)
    assert metrics["Scratch baseline on class 3"] == "0.0 %"
    assert any("validation split of 20 %" in c.value and "never on the test set" in c.value for c in app.caption)
    table = app.dataframe[0].value
    assert list(table["seed"]) == [0, 1] and {"KD student on 3", "scratch on 3", "KD + bias on 3", "bias"} <= set(
        table.columns
    )
    # Without a validation split no bias correction is shown: it would have to be chosen on the test set.
    app.selectbox(key="lesson").set_value("free-play").run()
    app.selectbox(key="omit_class").set_value(5).run()
    fast(app, seeds=1)
    app.button(key="distill").click().run()
    finish(app)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["KD student after bias correction"] == "not shown"
    assert any("No bias correction is shown" in c.value and "test set" in c.value for c in app.caption)


def _fresh_data_caches():
    import streamlit as st

    import kd_core.data.datasets

    kd_core.data.datasets._load_cached.cache_clear()
    st.cache_resource.clear()


def test_hinton_mnist_without_the_files_says_so_in_student_words_with_a_way_back(app, monkeypatch, tmp_path):
    monkeypatch.setenv("KD_DATA_DIR", str(tmp_path))
    import kd_core.data.datasets

    def offline(*args, **kwargs):
        raise kd_core.data.datasets.DatasetUnavailable(
            f"dataset 'mnist' is not in {tmp_path} and could not be downloaded (offline); "
            f"put its files there as {tmp_path}/MNIST/raw, {kd_core.data.datasets.DATA_DIR_HINT}"
        )

    monkeypatch.setattr(kd_core.data.datasets, "_torchvision_split", offline)
    _fresh_data_caches()
    try:
        app.selectbox(key="lesson").set_value("hinton-mnist").run()
        assert not app.exception
        [error] = [e.value for e in app.error]
        assert "This lesson needs the MNIST files" in error and str(tmp_path) not in error
        assert str(tmp_path) in " ".join(c.value for c in app.code)  # the server path, in the expander
        page = " ".join(
            e.value for kind in ("error", "code", "caption", "markdown", "info", "warning") for e in app.get(kind)
        )
        assert "--data-dir" not in page  # the page takes no flags: it names its own way to another folder
        assert app.button(key="distill").disabled
        app.button(key="back_to_digits").click().run()
        assert app.selectbox(key="lesson").value == "little-data" and app.selectbox(key="dataset").value == "digits"
        assert not app.error and not app.button(key="distill").disabled
    finally:
        _fresh_data_caches()


MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def distill_tiny_models(app) -> None:
    """Distill the chosen lesson with tiny models, one epoch each and one seed: seconds, and the lesson stays."""
    app.selectbox(key="teacher").set_value("mlp-small").run()
    app.selectbox(key="student").set_value("mlp-tiny").run()
    app.slider(key="teacher_epochs").set_value(1).run()
    app.slider(key="epochs").set_value(1).run()
    app.slider(key="seeds").set_value(1).run()
    app.button(key="distill").click().run()
    finish(app)


@pytest.mark.realdata
@pytest.mark.skipif(not (MNIST_DIR / "MNIST" / "raw").is_dir(), reason="the MNIST files are not on this machine")
def test_hinton_mnist_reports_errors_out_of_10000_beside_the_papers_and_estimates_its_time(app, monkeypatch):
    monkeypatch.setenv("KD_DATA_DIR", str(MNIST_DIR))
    _fresh_data_caches()
    try:
        app.selectbox(key="lesson").set_value("hinton-mnist").run()
        assert not app.error, [e.value for e in app.error]
        # The lesson's own settings (a 1200-1200 teacher, 8 + 8 epochs on 60,000 images) take minutes: the page says so.
        assert any(
            c.value.startswith("⏱ This Distill will take **about ") and "minute" in c.value for c in app.sidebar.caption
        )
        # Tiny models and one epoch, so the test takes seconds; the lesson (and so the paper's column) stays.
        distill_tiny_models(app)
        assert not app.exception
        (table,) = [d.value for d in app.dataframe if "model" in d.value.columns]  # other tabs have tables too
        assert list(table["model"]) == ["Teacher", "KD student", "Scratch baseline"]
        assert list(table["the paper's errors"]) == [67, 74, 146]
        errors = [int(v.replace(",", "")) for v in table["test errors (of 10,000)"]]
        accuracies = [float(v.rstrip(" %")) for v in table["test accuracy"]]
        assert all(abs(e - (100 - a) * 100) <= 1 for e, a in zip(errors, accuracies))
    finally:
        _fresh_data_caches()


def test_lesson_settings_without_a_control_and_no_hidden_class_read_as_words(app):
    app.selectbox(key="lesson").set_value("unseen-class").run()
    [note] = [i.value for i in app.info if "Lesson:" in i.value]
    assert "a 20 % validation split kept from the students" in note and "a cosine-annealed learning rate" in note
    assert "holdout" not in note and "schedule" not in note and "?." not in note
    app.selectbox(key="lesson").set_value("tiny-student").run()
    [note] = [i.value for i in app.info if "Lesson:" in i.value]
    assert "**Lesson: How small can the student get?**" in note  # a question takes no full stop after it
    hidden = app.selectbox(key="omit_class")
    assert hidden.value is None and hidden.proto.placeholder.startswith("none")  # not Streamlit's "Choose an option"


@pytest.mark.realdata
@pytest.mark.skipif(not (MNIST_DIR / "MNIST" / "raw").is_dir(), reason="the MNIST files are not on this machine")
def test_hinton_7s_and_8s_reports_the_other_digits_before_and_after_the_bias(app, monkeypatch):
    monkeypatch.setenv("KD_DATA_DIR", str(MNIST_DIR))
    _fresh_data_caches()
    try:
        app.selectbox(key="lesson").set_value("hinton-7s-and-8s").run()
        assert not app.error, [e.value for e in app.error]
        [note] = [i.value for i in app.info if "Lesson:" in i.value]
        assert "students see only the 7s and 8s" in note and "keep_classes" not in note
        # Tiny models and one epoch, so the test takes seconds; the lesson's transfer set stays.
        distill_tiny_models(app)
        assert not app.exception and not app.error
        assert any("Students that saw only 7s and 8s" in m.value for m in app.markdown)
        metrics = {m.label: m.value for m in app.metric}
        assert metrics["Scratch baseline's test errors"].endswith(" %")
        assert float(metrics["KD student's errors after the bias"].rstrip(" %")) <= 100
        (table,) = [d.value for d in app.dataframe if "KD on the other digits" in d.value.columns]
        assert list(table["seed"]) == [0] and table["bias"][0].startswith(("+", "-"))
        assert any("chosen on a validation split" in c.value and "13.2 %" in c.value for c in app.caption)
    finally:
        _fresh_data_caches()


# ---------------------------------------------------------------- lessons on data of one's own


def test_a_lesson_on_your_own_data_keeps_its_images_per_class_or_says_why_it_does_not_apply():
    import torch

    from dashboard.page.choices import FRACTIONS
    from kd_core.studies.lessons import FEW_PER_CLASS, on_own_data

    shapes = torch.tensor([0] * 24 + [1] * 24 + [2] * 24)  # a 90-image zip's 72 training images
    little = on_own_data(LESSONS["little-data"], shapes, FRACTIONS)
    assert little.applies and little.fraction == 0.3 and little.per_class == 7  # 7 of each class, as on the digits
    assert on_own_data(LESSONS["little-data"], shapes).fraction == pytest.approx(7 / 24)  # any share: exactly 7
    assert on_own_data(LESSONS["full-data"], shapes).fraction == 1.0
    uneven = torch.tensor([0] * 40 + [1] * 120 + [2] * 14)
    assert on_own_data(LESSONS["little-data"], uneven, FRACTIONS).fraction == 0.5  # 7 of the smallest class's 14
    few = on_own_data(LESSONS["little-data"], torch.tensor([0] * 8 + [1] * 8), FRACTIONS)
    assert not few.applies and "8 training images of its smallest class" in few.reason and "15 or more" in few.reason
    for name in ("unseen-class", "tiny-student", "hinton-mnist", "hinton-omitted-3", "hinton-7s-and-8s"):
        found = on_own_data(LESSONS[name], shapes, FRACTIONS)
        assert not found.applies and found.reason == LESSONS[name].own_data, name
    assert FEW_PER_CLASS <= little.per_class


def test_a_lesson_on_an_upload_adapts_or_says_it_does_not_apply_and_the_digits_share_comes_back(app, tmp_path):
    from own_data_support import image_folder, zip_of

    app.file_uploader(key="upload_data").set_value(
        ("shapes.zip", zip_of(image_folder(tmp_path / "shapes", per_class=30)), "application/zip")
    ).run()
    assert not app.exception and app.select_slider(key="student_fraction").value == pytest.approx(0.3)
    app.selectbox(key="lesson").set_value("unseen-class").run()
    [box] = [i.value for i in app.info if i.value.startswith("**Lesson:")]
    assert "It does not apply to your shapes.zip: it is about the digit 3" in box
    assert LESSONS["unseen-class"].look_for not in box and "18 test images (6 of each class)" in box
    app.selectbox(key="lesson").set_value("little-data").run()
    assert app.select_slider(key="student_fraction").value == pytest.approx(0.3)
    app.radio(key="upload_data_use").set_value("").run()  # back to the built-in digits
    assert app.select_slider(key="student_fraction").value == pytest.approx(0.05)
    assert app.selectbox(key="dataset").value == "digits"
    assert any(LESSONS["little-data"].look_for in i.value for i in app.info)
    assert app.select_slider(key="student_fraction").format_func(0.05) == "5 % (70 images)"  # as the engine counts
