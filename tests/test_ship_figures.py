"""The Ship tab's pure parts: the Pareto frontier on hand-made points, the figures built from summary rows, and the
sentences on hand-made numbers — every word that depends on a number (smaller/larger, faster/slower, above/below,
where int8 starts to pay) follows the number."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from dashboard.figures import ship as sf
from dashboard.figures.charts import alt_text
from dashboard.text import ship as words
from dashboard.text.ship import Headline
from kd_core.deploy.export import onnx_bytes
from kd_core.deploy.ship import SummaryRow
from kd_core.stats import Interval

# ---------------------------------------------------------------- the frontier


def test_the_frontier_keeps_the_points_no_other_beats_on_both_axes_cheapest_first():
    # (cost, accuracy): lower cost and higher accuracy are better
    points = [(10.0, 0.95), (1.0, 0.80), (2.0, 0.90), (3.0, 0.85), (12.0, 0.94), (2.0, 0.90)]
    # (3, .85) is beaten by (2, .90); (12, .94) by (10, .95); the second (2, .90) repeats the first
    assert sf.frontier(points) == [1, 2, 0]


def test_a_tie_on_one_axis_is_beaten_by_the_better_other_axis():
    assert sf.frontier([(1.0, 0.9), (1.0, 0.8), (0.5, 0.8)]) == [2, 0]
    assert sf.frontier([(1.0, 0.9)]) == [0]
    assert sf.frontier([]) == []


# ---------------------------------------------------------------- the figures


def interval(mean: float, half: float | None = None) -> Interval:
    if half is None:
        return Interval(mean, 0.0, None, None, 1)
    return Interval(mean, 0.1, mean - half, mean + half, 3)


def row(model: str, format: str, accuracy: float, seconds: float, size: int, half: float | None = 0.01) -> SummaryRow:
    figures = {
        "accuracy": interval(accuracy, half),
        "latency_seconds": interval(seconds, None if half is None else seconds / 2),
        "bytes": interval(size, None if half is None else 0.0),
    }
    return SummaryRow(model, format, None if format == "fp32" else "dynamic", figures)


ROWS = [
    row("teacher", "fp32", 0.97, 8e-6, 340_000),
    row("teacher", "int8", 0.96, 7e-6, 90_000),
    row("student", "fp32", 0.95, 4e-6, 6_700),
    row("student", "int8", 0.95, 5e-6, 4_800),
    row("baseline", "fp32", 0.93, 4e-6, 6_700),
    row("baseline", "int8", 0.93, 5e-6, 4_800),
]


def test_the_latency_chart_draws_six_points_with_their_intervals_and_the_frontier():
    figure = sf.latency_figure(ROWS)
    points = [t for t in figure.data if t.mode == "markers"]
    assert [t.name for t in points] == [
        "Teacher FP32",
        "Teacher int8",
        "KD FP32",
        "KD int8",
        "Scratch FP32",
        "Scratch int8",
    ]
    assert [t.y[0] for t in points] == pytest.approx([97, 96, 95, 95, 93, 93])
    assert points[2].x[0] == pytest.approx(4.0) and points[2].error_y.array[0] == pytest.approx(1.0)
    assert points[2].error_x.arrayminus[0] == pytest.approx(2.0)  # 4 µs ± 2 µs
    (line,) = [t for t in figure.data if t.name == "Pareto frontier"]
    # cheapest first: the KD student FP32 (4 µs, 95 %) then the teacher int8 (7 µs, 96 %) then the teacher FP32
    assert list(line.x) == pytest.approx([4.0, 7.0, 8.0]) and list(line.y) == pytest.approx([95, 96, 97])
    assert figure.layout.xaxis.title.text == "µs per image, batch 1"
    assert alt_text(figure).startswith("Dot and line chart “Accuracy against latency”: test accuracy (%) against µs")
    alt = sf.points_alt(ROWS, "latency_seconds")
    assert "KD student int8 95.00 % at 5 µs per image" in alt and alt.endswith(
        "On the Pareto frontier: KD student FP32, Teacher int8, Teacher FP32."
    )


def test_the_size_chart_is_on_a_log_axis_and_one_seed_draws_no_bars():
    rows = [row(r.model, r.format, r.figures["accuracy"].mean, 1e-5, int(r.figures["bytes"].mean), None) for r in ROWS]
    figure = sf.size_figure(rows)
    assert figure.layout.xaxis.type == "log"
    points = [t for t in figure.data if t.mode == "markers"]
    assert points[0].x[0] == pytest.approx(340.0) and points[0].error_y.array is None
    (line,) = [t for t in figure.data if t.name == "Pareto frontier"]
    assert list(line.x) == pytest.approx([4.8, 90.0, 340.0])  # the int8 KD student, then the teacher's two files


def test_the_batch_chart_draws_a_line_per_file_on_log_axes():
    curves = {
        ("student", "fp32"): [(1, 4e-6, 3e-6, 5e-6), (256, 1e-7, 1e-7, 2e-7)],
        ("student", "int8"): [(1, 5e-6, 4e-6, 6e-6), (256, 5e-8, 4e-8, 6e-8)],
    }
    figure = sf.batch_figure(curves)
    assert [t.name for t in figure.data] == ["KD student FP32", "KD student int8"]
    assert list(figure.data[1].y) == pytest.approx([5.0, 0.05]) and figure.data[1].line.dash == "dash"
    assert figure.layout.xaxis.type == "log" and figure.layout.yaxis.type == "log"
    assert list(figure.layout.xaxis.tickvals) == [1, 256]


# ---------------------------------------------------------------- the sentences


def test_the_headline_says_smaller_faster_below_above_with_the_numbers():
    text = words.headline(
        Headline(
            size_ratio=Interval(70.0, 0.0, 70.0, 70.0, 3),  # the same every seed: no interval worth showing
            speed_ratio=Interval(1.6, 0.1, 1.4, 1.8, 3),
            vs_teacher=Interval(-0.0167, 0.01, -0.03, -0.004, 3),
            vs_scratch=Interval(0.0208, 0.01, 0.005, 0.036, 3),
        )
    )
    assert text == (
        "The int8 KD student is 70.0× smaller and 1.6× faster (95 % interval 1.4× to 1.8×) than the FP32 teacher, "
        "1.67 points below it (95 % interval -3.00 to -0.40), and 2.08 points above the int8 student trained "
        "without the teacher (95 % interval +0.50 to +3.60)."
    )


def test_the_headline_turns_its_words_round_when_the_numbers_do():
    text = words.headline(
        Headline(
            size_ratio=Interval(0.5, 0.0, None, None, 1),  # the student's file is twice the teacher's
            speed_ratio=Interval(0.8, 0.0, None, None, 1),  # and it is slower
            vs_teacher=Interval(0.004, 0.0, None, None, 1),
            vs_scratch=Interval(-0.01, 0.0, None, None, 1),
        )
    )
    assert text == (
        "The int8 KD student is 2.0× larger and 1.2× slower than the FP32 teacher, 0.40 points above it, and 1.00 "
        "points below the int8 student trained without the teacher."
    )
    inverse = words.ratio_words(Interval(0.5, 0.1, 0.4, 0.625, 3), "faster", "slower")
    assert inverse == "2.0× slower (95 % interval 1.6× to 2.5×)"


def test_the_headline_says_the_same_and_level_where_the_numbers_are_equal():
    text = words.headline(
        Headline(
            size_ratio=Interval(3.0, 0.0, None, None, 1),
            speed_ratio=Interval(1.02, 0.0, None, None, 1),  # rounds to 1.0×
            vs_teacher=Interval(0.00001, 0.0, None, None, 1),
            vs_scratch=Interval(0.0, 0.0, None, None, 1),
        )
    )
    assert text == (
        "The int8 KD student is 3.0× smaller than the FP32 teacher and about as fast, level with it, and level "
        "with the int8 student trained without the teacher."
    )


def test_without_the_teacher_the_headline_compares_the_students_alone():
    text = words.headline(Headline(None, None, None, Interval(0.02, 0.0, None, None, 1)))
    assert text == "The int8 KD student is 2.00 points above the int8 student trained without the teacher."


def test_where_int8_pays_is_read_from_the_curve():
    fp32 = [(1, 4.5e-6), (8, 1.0e-6), (64, 4e-7), (256, 3e-7)]
    slower_then_pays = [(1, 5.4e-6), (8, 1.2e-6), (64, 2e-7), (256, 1e-7)]
    assert words.int8_pays("student", fp32, slower_then_pays) == (
        "int8 is slower than FP32 for the KD student at batch 1 (5.4 µs vs 4.5 µs per image); it pays from batch 64 "
        "(200 ns vs 400 ns)."
    )
    never = [(b, 2 * s) for b, s in fp32]
    assert words.int8_pays("baseline", fp32, never).startswith(
        "int8 does not pay for the scratch student at any batch size measured, 1 to 256 images: it is slower"
    )
    always = [(b, s / 2) for b, s in fp32]
    assert words.int8_pays("teacher", fp32, always) == (
        "int8 is faster than FP32 for the teacher at every batch size measured, 1 to 256 images (2.2 µs vs 4.5 µs "
        "per image at batch 1, 150 ns vs 300 ns at 256)."
    )
    mixed = [(1, 4e-6), (8, 2e-6), (64, 3e-7), (256, 4e-7)]  # faster at 1 and 64, slower at 8 and 256
    text = words.int8_pays("student", fp32, mixed)
    assert text.startswith("int8 is faster than FP32 for the KD student at batch 1 (4.0 µs vs 4.5 µs), 64 (")
    assert "slower at batch 8 (2.0 µs vs 1.0 µs), 256 (400 ns vs 300 ns)" in text


def test_sizes_times_and_accuracies_in_words():
    assert [words.microseconds(s) for s in (4.5e-8, 4.54e-6, 3.8e-5, 1.23e-3)] == ["45 ns", "4.5 µs", "38 µs", "1.2 ms"]
    assert [words.kilobytes(b) for b in (4788, 342_355, 2_400_000)] == ["4.8 KB", "342 KB", "2.4 MB"]
    assert words.percent_interval(Interval(0.9431, 0.01, 0.8910, 0.9952, 2)) == "94.31 [89.10, 99.52]"
    assert words.percent_interval(Interval(0.9431, 0.0, None, None, 1)) == "94.31"


def test_the_onnxruntime_code_runs_a_shipped_file_as_written(tmp_path):
    """The tab's code, with the file's own input name, shape and type, runs as it stands and prints a class per
    image."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    (tmp_path / "student-fp32.onnx").write_bytes(onnx_bytes(model, torch.zeros(1, 1, 8, 8)))
    code = words.onnxruntime_code("student-fp32.onnx", "images", ("batch", 1, 8, 8), "float32", (0.5,), (0.5,))
    assert 'session.run(None, {"images": images})' in code and "np.zeros((1, 1, 8, 8), dtype=np.float32)" in code
    assert "(x - 0.5) / 0.5" in code
    printed = []
    namespace = {"print": printed.append}
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(code, namespace)  # noqa: S102 - the page's own snippet
    finally:
        os.chdir(here)
    assert printed and np.asarray(printed[0]).shape == (1,) and 0 <= int(printed[0][0]) < 10
    assert ort.__version__  # the snippet's one dependency


def test_the_job_panel_says_how_far_a_shipment_is():
    from dashboard.runs.experiments import progress
    from dashboard.runs.ship import ShipEvent

    assert progress([]) == (0.0, "starting…")
    assert progress([ShipEvent(1, 4)]) == (0.25, "1 of 4 seeds' files written and measured")
