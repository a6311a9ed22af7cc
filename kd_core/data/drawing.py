"""A digit drawn on the page, turned into what a model of the dataset sees.  Pure functions, no Streamlit.

    ink = ink_of(rgba)                          # the canvas's pixels (white on black) -> ink in [0, 1]
    view = digits_view(ink)                     # scikit-learn's digits: 8×8, whole numbers 0..16
    view = mnist_view(ink)                      # MNIST: the digit in a 20×20 box, its centre of mass at 28×28's centre
    x = model_input(view, "digits", mean, std)  # (1, 1, H, W), normalised as the dataset is

The two framings are the datasets' own: the UCI digits were scaled to fill a 32×32 bitmap and counted in 4×4
blocks (so each of the 8×8 pixels is 0..16), and LeCun's MNIST digits were scaled to fit a 20×20 box (keeping
their aspect) and placed in 28×28 so that their centre of mass sits at the centre.

The UCI digits were written with a thick pen for their size: at least a quarter of the 32×32 bitmap is ink in
98.7 % of them (a 1 too: it is three of the 8×8 columns wide).  A canvas stroke scaled to that bitmap is thinner —
a thin vertical 1 came out as two columns of 4s, which a trained teacher read as a 7 — so ``digits_view`` thickens
a thin drawing (never thins one) until its bitmap holds as much ink as the dataset's digits (``INK_SHARE``).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

DRAWABLE = ("digits", "mnist", "fashion-mnist")  # datasets whose examples a finger can draw: handwritten digits
# (fashion-mnist's are clothes, but the same 28×28 framing)
INK_THRESHOLD = 0.5
INK_SHARE = 0.25  # of the 32×32 bitmap: the least ink of 98.7 % of scikit-learn's digits (the median: 0.31)
BITMAP = 32  # the UCI digits' bitmap, counted in 4×4 blocks


def ink_of(rgba: np.ndarray) -> np.ndarray:
    """The canvas's (H, W, 4) uint8 pixels, drawn white on black, as ink in [0, 1] (a transparent pixel has none)."""
    pixels = np.asarray(rgba, dtype=np.float32)
    light = pixels[..., :3].mean(axis=-1) / 255.0
    alpha = pixels[..., 3] / 255.0 if pixels.shape[-1] == 4 else 1.0
    return np.clip(light * alpha, 0.0, 1.0)


def _box(ink: np.ndarray) -> tuple[slice, slice] | None:
    rows, cols = np.nonzero(ink > INK_THRESHOLD / 5)  # faint anti-aliased edges count as part of the stroke
    if len(rows) == 0:
        return None
    return slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)


def _fit(crop: np.ndarray, side: int) -> np.ndarray:
    """``crop`` scaled (aspect kept) so its longer side is ``side``, centred in a side × side square."""
    from PIL import Image

    height, width = crop.shape
    scale = side / max(height, width)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    scaled = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize(new, Image.LANCZOS), np.float32) / 255
    square = np.zeros((side, side), np.float32)
    top, left = (side - new[1]) // 2, (side - new[0]) // 2
    square[top : top + new[1], left : left + new[0]] = scaled
    return np.clip(square, 0.0, 1.0)


def _bitmap(ink: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """The drawing scaled into the 32×32 bitmap: True where it is ink."""
    return _fit(ink[box], BITMAP) > INK_THRESHOLD


def _thickened(ink: np.ndarray) -> np.ndarray:
    """``ink`` with its strokes grown (by the least radius, to a pixel) until its bitmap holds ``INK_SHARE`` ink;
    unchanged when it holds that much already."""
    box = _box(ink)
    if box is None or not (ink > INK_THRESHOLD).any() or _bitmap(ink, box).mean() >= INK_SHARE:
        return ink
    distance = ndimage.distance_transform_edt(ink <= INK_THRESHOLD)  # from each pixel to the nearest stroke
    grown = lambda radius: np.maximum(ink, (distance <= radius).astype(np.float32))
    low, high = 0.0, float(max(ink.shape))  # ink enough at ``high``: the whole canvas
    while high - low > 1:  # bigger strokes hold more of the bitmap: halve the interval
        middle = (low + high) / 2
        thicker = grown(middle)
        if _bitmap(thicker, _box(thicker)).mean() >= INK_SHARE:
            high = middle
        else:
            low = middle
    return grown(high)


def digits_view(ink: np.ndarray) -> np.ndarray | None:
    """8×8 whole numbers 0..16: the drawing (thickened to the dataset's ink, ``_thickened``) scaled into 32×32, then
    the "on" pixels of each 4×4 block counted."""
    if _box(ink) is None:
        return None
    ink = _thickened(ink)
    bitmap = _bitmap(ink, _box(ink))
    return bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.float32)


def mnist_view(ink: np.ndarray) -> np.ndarray | None:
    """28×28 in [0, 1]: the drawing scaled into a 20×20 box, placed so its centre of mass is at (14, 14)."""
    box = _box(ink)
    if box is None:
        return None
    digit = _fit(ink[box], 20)
    total = digit.sum()
    rows, cols = np.indices(digit.shape)
    centre = ((rows * digit).sum() / total, (cols * digit).sum() / total)
    top = int(np.clip(round(14 - centre[0]), 0, 8))  # the 20×20 box stays inside 28×28
    left = int(np.clip(round(14 - centre[1]), 0, 8))
    image = np.zeros((28, 28), np.float32)
    image[top : top + 20, left : left + 20] = digit
    return image


def view_of(ink: np.ndarray, dataset: str) -> np.ndarray | None:
    """What a model of ``dataset`` sees, before normalisation (digits: 0..16; MNIST: 0..1); None for no ink."""
    return digits_view(ink) if dataset == "digits" else mnist_view(ink)


def model_input(view: np.ndarray, dataset: str, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(1, 1, H, W) normalised exactly as data.py normalises the dataset's images."""
    pixels = view / 16.0 if dataset == "digits" else view
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).view(1, 1, *pixels.shape)
    return (x - mean[0]) / std[0]


def preview(view: np.ndarray, dataset: str) -> np.ndarray:
    """The view as a [0, 1] image for display."""
    return view / 16.0 if dataset == "digits" else view
