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


def test_a_vertical_stroke_is_a_centred_column_of_whole_counts():
    ink = np.zeros((280, 280))
    ink[40:240, 100:124] = 1.0  # a "1", off centre and far smaller than the canvas
    view = drawing.digits_view(drawing.ink_of(canvas_of(ink)))
    assert view.shape == (8, 8) and view.max() <= 16 and np.array_equal(view, view.round())
    assert view[:, 3:5].sum() > 0.9 * view.sum()  # scaled to fill the height, centred across
    assert (view[:, 0] == 0).all() and (view[:, 7] == 0).all()


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
