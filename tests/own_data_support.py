"""Small datasets of one's own, written to a folder for a test: image folders, zips and CSV files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np


def shape_image(
    kind: str, size: int = 20, noise: int = 0, rng: np.random.Generator | None = None, colour: bool = False
) -> np.ndarray:
    """A circle, square or cross on black, with a little noise: three classes a tiny CNN tells apart."""
    yy, xx = np.mgrid[:size, :size]
    c, r = size / 2, size / 4
    mask = {
        "circle": (yy - c) ** 2 + (xx - c) ** 2 < r * r,
        "square": (abs(yy - c) < r) & (abs(xx - c) < r),
        "cross": (abs(yy - c) < 1.5) | (abs(xx - c) < 1.5),
    }[kind]
    pixels = mask.astype(np.int64) * 200
    if rng is not None and noise:
        pixels = pixels + rng.integers(0, noise, pixels.shape)
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    if colour:
        pixels = np.stack([pixels, pixels // 2, 255 - pixels], axis=-1)
    return pixels


def write_image(path: Path, pixels: np.ndarray, fmt: str = "PNG") -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt)


def image_folder(
    root: Path, classes=("circle", "square", "cross"), per_class: int = 10, size: int = 20, colour: bool = False
) -> Path:
    rng = np.random.default_rng(0)
    for kind in classes:
        for i in range(per_class):
            write_image(root / kind / f"{i}.png", shape_image(kind, size, 60, rng, colour))
    return root


def zip_of(root: Path) -> bytes:
    """The folder ``root`` as zip bytes, its files under ``root.name/``, as a file browser zips a folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, f"{root.name}/{path.relative_to(root)}")
    return buffer.getvalue()


def csv_text(rows: int = 60, classes: int = 3, label: str = "species") -> str:
    """Two informative numeric columns and one label column (last), separable classes."""
    rng = np.random.default_rng(1)
    lines = [f"length,width,{label}"]
    for i in range(rows):
        cls = i % classes
        lines.append(f"{cls * 3 + rng.normal():.3f},{-cls * 2 + rng.normal():.3f},kind{cls}")
    return "\n".join(lines) + "\n"
