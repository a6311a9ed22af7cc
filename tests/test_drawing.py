"""kd_core.data.drawing: a drawing framed as the dataset frames its images (digits: 8×8, 0..16 counts of a 32×32
bitmap; MNIST: a 20×20 box with its centre of mass at the centre of 28×28), normalised as data.py does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kd_core import RunConfig, RunSetup, TeacherCache, load_dataset, predict_logits, validate
from kd_core.data import drawing


def canvas_of(ink: np.ndarray) -> np.ndarray:
    """(H, W) ink in [0, 1] as the canvas sends it: RGBA uint8, white on opaque black."""
    grey = (np.clip(ink, 0, 1) * 255).astype(np.uint8)
    return np.stack([grey, grey, grey, np.full_like(grey, 255)], axis=-1)


def test_an_empty_canvas_is_no_drawing():
    blank = canvas_of(np.zeros((280, 280)))
    assert drawing.view_of(drawing.ink_of(blank), "digits") is None
    assert drawing.view_of(drawing.ink_of(blank), "mnist") is None


def stroke(points: list[tuple[int, int]], pen: int, size: int = 256) -> np.ndarray:
    """A finger's stroke through ``points`` on a size × size canvas, ``pen`` pixels wide with round ends: ink in
    [0, 1], anti-aliased at its edges as the canvas draws it."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (size * 4, size * 4), 0)  # drawn 4× larger, then scaled down: soft edges
    draw = ImageDraw.Draw(canvas)
    scaled = [(4 * x, 4 * y) for x, y in points]
    draw.line(scaled, fill=255, width=4 * pen, joint="curve")
    for x, y in (scaled[0], scaled[-1]):
        draw.ellipse([x - 2 * pen, y - 2 * pen, x + 2 * pen, y + 2 * pen], fill=255)
    return np.asarray(canvas.resize((size, size), Image.LANCZOS), np.float32) / 255


def test_a_vertical_stroke_is_a_centred_column_of_whole_counts_as_thick_as_the_datasets_ones():
    ink = np.zeros((280, 280))
    ink[40:240, 100:124] = 1.0  # a "1", off centre and far smaller than the canvas
    view = drawing.digits_view(drawing.ink_of(canvas_of(ink)))
    assert view.shape == (8, 8) and view.max() <= 16 and np.array_equal(view, view.round())
    assert (view[:, :2] == 0).all() and (view[:, 6:] == 0).all()  # scaled to fill the height, centred across
    assert (view[:, 3:5] >= 12).all()  # its middle columns solid, as the dataset's 1s (not a column of 8s)
    assert view.sum() >= drawing.INK_SHARE * 32 * 32  # thickened to the dataset's ink


def test_the_ink_share_is_the_datasets_and_a_thick_drawing_is_left_as_it_is():
    from sklearn.datasets import load_digits

    share = load_digits().images.sum(axis=(1, 2)) / (32 * 32)  # each 8×8 count is of a 4×4 block of the bitmap
    assert (share >= drawing.INK_SHARE).mean() >= 0.98 and np.median(share) > drawing.INK_SHARE
    thick = stroke([(128, 40), (128, 216)], pen=80)  # as wide as a UCI 1 already
    assert drawing._thickened(thick) is thick  # never thinned, never thickened past the dataset
    thin = stroke([(128, 40), (128, 216)], pen=8)
    thickened = drawing._thickened(thin)
    assert (thickened >= thin).all() and thickened.sum() > 2 * thin.sum()
    assert drawing.digits_view(thin).sum() >= drawing.INK_SHARE * 32 * 32


@pytest.fixture(scope="module")
def digits_teacher():
    """scikit-learn's digits' default teacher, 10 epochs: trained once into the session's teacher cache (about a
    second), as the page and kd-train would."""
    teacher = RunSetup(validate(RunConfig(teacher_epochs=10))).teacher(TeacherCache()).model
    return teacher.eval(), load_dataset("digits")


@pytest.mark.parametrize(
    "points",
    [
        [(128, 30), (128, 226)],  # a finger's 1: one straight stroke, the canvas's height
        [(128, 80), (128, 180)],  # a short one
        [(150, 30), (110, 226)],  # leaning, top right to bottom left (the way a 7's stem leans)
        [(105, 60), (135, 30), (135, 226)],  # with a flag at the top
    ],
    ids=["tall", "short", "leaning", "flag"],
)
@pytest.mark.parametrize("pen", [8, 12, 24])
def test_a_thin_stroke_drawn_as_a_1_is_a_1_to_a_trained_teacher(digits_teacher, points, pen):
    """A 1 drawn with the page's pen (24 px on its 256 px canvas) or a thinner one, through the page's framing: the
    teacher reads a 1, sure of it at T = 1 and still ranking it first at the page's T = 4.  (Before the framing
    thickened thin strokes, a thin 1 came out as two columns of 4s and the teacher read a 7.)"""
    teacher, data = digits_teacher
    view = drawing.view_of(drawing.ink_of(canvas_of(stroke(points, pen))), "digits")
    logits = predict_logits(teacher, drawing.model_input(view, "digits", data.mean, data.std))[0].double()
    assert torch.softmax(logits, 0)[1] >= 0.9
    assert torch.softmax(logits / 4, 0).argmax() == 1


def test_the_mnist_framing_puts_the_centre_of_mass_in_the_middle():
    ink = np.zeros((280, 280))
    ink[10:60, 10:30] = 1.0
    ink[10:20, 30:120] = 1.0  # a "7"-ish shape in the top left corner, heavier at the top
    view = drawing.mnist_view(drawing.ink_of(canvas_of(ink)))
    rows, cols = np.indices(view.shape)
    centre = ((rows * view).sum() / view.sum(), (cols * view).sum() / view.sum())
    assert view.shape == (28, 28) and abs(centre[0] - 14) <= 1 and abs(centre[1] - 14) <= 1
    nonzero = np.nonzero(view > 0.05)
    assert max(np.ptp(nonzero[0]), np.ptp(nonzero[1])) in (19, 20)  # the longer side fills the 20×20 box


def test_the_model_input_is_normalised_as_the_dataset():
    view = np.full((8, 8), 16.0)
    x = drawing.model_input(view, "digits", (0.5,), (0.5,))
    assert x.shape == (1, 1, 8, 8) and torch.allclose(x, torch.ones_like(x))  # 16/16 → (1 − 0.5)/0.5
    x = drawing.model_input(np.zeros((28, 28)), "mnist", (0.1307,), (0.3081,))
    assert torch.allclose(x, torch.full_like(x, -0.1307 / 0.3081))


@pytest.mark.slow
def test_digits_drawn_at_canvas_size_are_read_as_the_teacher_reads_the_originals():
    """Each test digit blown up to the canvas (as a finger would draw it, 35× larger) and framed again: a
    trained teacher reads most of them as it reads the originals."""
    config = validate(RunConfig(teacher_epochs=10))
    setup = RunSetup(config)
    teacher = setup.teacher(TeacherCache()).model
    data = load_dataset("digits")
    originals = data.x_test[:100]
    redrawn = []
    for x in originals:
        pixels = x[0].numpy() * 0.5 + 0.5  # back to 0..1
        big = np.kron(pixels, np.ones((35, 35)))
        view = drawing.digits_view(drawing.ink_of(canvas_of(big)))
        redrawn.append(drawing.model_input(view, "digits", data.mean, data.std))
    same = predict_logits(teacher, torch.cat(redrawn)).argmax(1) == predict_logits(teacher, originals).argmax(1)
    assert same.float().mean() >= 0.8
