"""A dataset of your own: an image folder (``folder:PATH``) or a CSV of numeric features (``csv:PATH``).

    folder:PATH    torchvision's ImageFolder layout, one subfolder per class (PATH/cat/1.png, PATH/dog/2.jpg); with
                   PATH/train/ and PATH/test/ subfolders those are the split, else a stratified 80/20 split (seed 0).
                   Every image is resized to IMAGE_SIZE × IMAGE_SIZE (bilinear, aspect not kept); grey if every image
                   is grey, else colour (RGB).  Unreadable files are skipped and counted.  Every image's size is
                   read from its header before any is decoded (``check_pixels``): a tiny compressed file can hold a
                   huge bitmap, so one image and the folder together are limited in decoded pixels (``PixelLimits``;
                   kd-train's are ``PIXEL_LIMITS``, the page's uploads pass stricter ones), and only the 32 × 32 copy
                   of each image is kept once it is read.
    csv:PATH       a header row, one example per row: numeric feature columns and a label column (the last one, or
                   ``;label=NAME``: kd-train's --label-column).  Features are standardised with the training rows'
                   mean and deviation.

A validated config names the data by its canonical name, ``KIND:ABSOLUTE_PATH[;label=NAME];sha=HASH``: HASH is a
content hash of the files, so it is part of every cache key and two different datasets never share results; a
worker process that loads the name checks the files still hash the same.  Bad data raises ``CustomDataError``
(a ValueError) whose message is one plain sentence.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import torch

from kd_core.data.spec import Dataset, DatasetSpec
from kd_core.files import one_line

IMAGE_SIZE = 32  # every image is resized to 32 × 32: the CNNs pool twice, and CIFAR-sized inputs train fast on a CPU
MAX_CLASSES = 100
TEST_SHARE = 0.2
KINDS = ("folder", "csv")
_NAME = re.compile(r"^(folder|csv):(.+?)(?:;label=([^;]*))?(?:;sha=([0-9a-f]{16}))?$", re.DOTALL)
_IGNORED = ("__MACOSX", "Thumbs.db")  # what zip tools and file browsers add beside the data


class CustomDataError(ValueError):
    """Data of one's own that cannot be used; the message is one sentence for the person who gave it."""


@dataclass(frozen=True)
class PixelLimits:
    """How many decoded pixels (width × height) the image-folder loader reads, checked from each image's header
    before anything is decoded: a 30 KB compressed file can hold a 5600 × 5600 bitmap (31 million pixels)."""

    image_megapixels: float  # one image
    total_megapixels: float | None = None  # every image of the folder together; None: no limit

    def __post_init__(self) -> None:
        if not self.image_megapixels > 0 or (self.total_megapixels is not None and not self.total_megapixels > 0):
            raise ValueError(f"pixel limits must be positive, got {self}")


# kd-train's limits for a folder of one's own: memory holds one decoded image at a time (about 4 bytes a pixel,
# twice over while it is converted), so 50 megapixels (a 7000 × 7000 image) stays under half a gigabyte; the folder
# as a whole only costs time.  The page's uploads pass stricter limits (dashboard/page/uploads.py, Limits).
PIXEL_LIMITS = PixelLimits(image_megapixels=50)


@dataclass(frozen=True)
class Source:
    kind: str  # "folder" or "csv"
    path: Path
    label_column: str | None = None  # csv only; None: the last column
    digest: str | None = None  # the content hash, once known

    @property
    def name(self) -> str:
        label = f";label={self.label_column}" if self.label_column is not None else ""
        return f"{self.kind}:{self.path}{label}" + (f";sha={self.digest}" if self.digest else "")


@dataclass(frozen=True)
class Loaded:
    """A loaded dataset, its defaults, and what the loader did that its owner should hear about."""

    dataset: Dataset
    spec: DatasetSpec
    notes: tuple[str, ...]  # e.g. "2 unreadable files were skipped"; shown by kd-train and on the page


def is_custom(name: object) -> bool:
    return isinstance(name, str) and name.split(":", 1)[0] in KINDS and ":" in name


def parse(name: str) -> Source:
    match = _NAME.match(name)
    if not match:
        raise CustomDataError(f"a dataset of your own is named folder:PATH or csv:PATH, got {name!r}")
    kind, path, label, digest = match.groups()
    return Source(kind, Path(path).expanduser().absolute(), label, digest)


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in _IGNORED


def _files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and all(_visible(part) for part in p.relative_to(root).parents if part.name) and _visible(p)
    )


def content_hash(source: Source) -> str:
    """16 hex digits of SHA-256 over what the loader reads (and the loader's settings that change the tensors)."""
    h = hashlib.sha256(f"v1 size={IMAGE_SIZE} label={source.label_column}\n".encode())
    files = [source.path] if source.kind == "csv" else _files(source.path)
    for path in files:
        h.update(str(path.relative_to(source.path) if source.kind == "folder" else "").encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _check_exists(source: Source) -> None:
    if source.kind == "folder" and not source.path.is_dir():
        raise CustomDataError(f"there is no folder {source.path}")
    if source.kind == "csv" and not source.path.is_file():
        raise CustomDataError(f"there is no file {source.path}")


def _check_classes(counts: dict[str, int], where: str, add: str) -> None:
    """``add`` says what to add when there is only one class (a subfolder, rows with another label)."""
    if len(counts) > MAX_CLASSES:
        raise CustomDataError(f"{where} has {len(counts)} classes; at most {MAX_CLASSES} are allowed")
    if not counts:
        raise CustomDataError(f"{where} has no classes; put each class's examples in a subfolder named after the class")
    if len(counts) < 2:
        raise CustomDataError(
            f"{where} has only one class, '{next(iter(counts))}', and a classifier needs at least two: {add}"
        )
    few = [name for name, count in counts.items() if count < 2]
    if few:
        raise CustomDataError(
            f"class '{few[0]}' in {where} has {counts[few[0]]} example"
            f"{'' if counts[few[0]] == 1 else 's'}; every class needs at least 2"
        )


def stratified_split(labels: np.ndarray, share: float = TEST_SHARE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: ``share`` of each class (at least one, never all) to the test split, drawn with a fixed
    seed, so the split is the same for every run."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        count = min(len(members) - 1, max(1, round(share * len(members))))
        test.append(members[:count])
        train.append(members[count:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


# ---------------------------------------------------------------- image folders


ImageSource = Path | Callable[[], IO[bytes]]  # a file, or something that opens one (a zip member)
_BOMB = re.compile(r"\((\d+) pixels\)")


def _megapixels(pixels: float) -> str:
    """``pixels`` in words: "31.4 megapixels", "1 megapixel"."""
    number = f"{pixels / 1e6:.1f}".removesuffix(".0")
    return f"{number} megapixel{'' if number == '1' else 's'}"


def image_size(source: ImageSource) -> tuple[int, int] | None:
    """(width, height) from the image's header, nothing decoded; None when it is not an image PIL can read.
    An image too large for PIL even to open (its DecompressionBombError) is (its pixels, 1)."""
    from PIL import Image

    try:
        with contextlib.ExitStack() as stack:
            file = source if isinstance(source, Path) else stack.enter_context(source())
            with Image.open(file) as image:  # reads the header only: the pixels are decoded by load()
                return image.size
    except Image.DecompressionBombError as error:
        found = _BOMB.search(str(error))
        return (int(found.group(1)), 1) if found else (2 * (Image.MAX_IMAGE_PIXELS or 0) + 1, 1)
    except Exception:  # noqa: BLE001  any file at all reaches a format's parser: whatever it raises, not an image
        return None


def check_pixels(images: Iterable[tuple[str, ImageSource]], limits: PixelLimits, where: str) -> int:
    """The decoded pixels of ``images`` ((name shown, source) pairs), from their headers; CustomDataError naming the
    first image over ``limits.image_megapixels``, or ``where`` when together they pass ``limits.total_megapixels``."""
    total = 0
    for name, source in images:
        size = image_size(source)
        if size is None:
            continue  # not an image: the loader skips it and says so
        pixels = size[0] * size[1]
        if pixels > limits.image_megapixels * 1e6:
            what = _megapixels(pixels)
            what = f"{size[0]}×{size[1]} pixels ({what})" if size[1] > 1 else what  # (pixels, 1): PIL's bomb
            raise CustomDataError(
                f"{name} is {what}, more than the {_megapixels(limits.image_megapixels * 1e6)} an image may have "
                f"here; shrink the images (each is resized to {IMAGE_SIZE}×{IMAGE_SIZE} anyway) and try again"
            )
        total += pixels
        if limits.total_megapixels is not None and total > limits.total_megapixels * 1e6:
            raise CustomDataError(
                f"the images in {where} add up to more than {_megapixels(limits.total_megapixels * 1e6)}, "
                f"the most read at once here; use fewer or smaller images (each is resized to "
                f"{IMAGE_SIZE}×{IMAGE_SIZE} anyway)"
            )
    return total


def _read_image(path: Path):
    """(the image as RGB at IMAGE_SIZE × IMAGE_SIZE, its size, whether it is grey), or None when the file is not an
    image PIL can read.  Only the small copy outlives this call, so memory holds one decoded image at a time."""
    from PIL import Image, ImageChops, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            grey = image.mode in ("1", "L", "LA", "I", "I;16", "F")
            if not grey:  # an RGB file whose three channels are equal is grey too (scanners often save so)
                red, green, blue = rgb.split()
                grey = ImageChops.difference(red, green).getbbox() is None
                grey = grey and ImageChops.difference(green, blue).getbbox() is None
                del red, green, blue
            small = rgb.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
            size = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return small, size, grey


def _class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))


def _load_folder(source: Source, limits: PixelLimits) -> Loaded:
    root = source.path
    split = (root / "train").is_dir() and (root / "test").is_dir()
    parts = {"train": root / "train", "test": root / "test"} if split else {"all": root}
    classes = [p.name for p in _class_folders(parts.get("train", root))]
    if split:
        extra = sorted({p.name for p in _class_folders(parts["test"])} - set(classes))
        if extra:
            raise CustomDataError(f"test/ has a class that train/ lacks: '{extra[0]}'")
    where = f"folder {root.name}" if not split else f"folder {root.name}/train + test"
    files = {
        part: [
            (index, path)
            for index, name in enumerate(classes)
            if (folder / name).is_dir()
            for path in _files(folder / name)
        ]
        for part, folder in parts.items()
    }
    check_pixels(
        ((str(path.relative_to(root)), path) for listed in files.values() for _, path in listed), limits, where
    )  # every header before any image is decoded
    rows: dict[str, list[tuple]] = {part: [] for part in parts}
    skipped, sizes = 0, set()
    for part, listed in files.items():
        for index, path in listed:
            read = _read_image(path)
            if read is None:
                skipped += 1
                continue
            sizes.add(read[1])
            rows[part].append((read[0], read[2], index))
    counts = {name: sum(1 for rs in rows.values() for *_, i in rs if i == index) for index, name in enumerate(classes)}
    _check_classes(counts, where, "add a second subfolder with images of another class")
    if split and not rows["test"]:
        raise CustomDataError(f"folder {root.name}/test has no readable images")
    grey = all(g for rs in rows.values() for _, g, _ in rs)

    def tensors(items: list[tuple]) -> tuple[torch.Tensor, torch.Tensor]:
        arrays = [np.asarray(small, dtype=np.float32) / 255.0 for small, _, _ in items]
        x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
        return (x[:, :1] if grey else x).contiguous(), torch.tensor([i for *_, i in items], dtype=torch.int64)

    if split:
        (x_tr, y_tr), (x_te, y_te) = tensors(rows["train"]), tensors(rows["test"])
    else:
        x, y = tensors(rows["all"])
        train, test = stratified_split(y.numpy())
        x_tr, y_tr, x_te, y_te = x[train], y[train], x[test], y[test]
    channels = 1 if grey else 3
    mean = std = (0.5,) * channels
    norm = lambda t: ((t - 0.5) / 0.5).contiguous()  # noqa: E731  as digits and CIFAR-10: [-1, 1]
    notes = []
    if skipped:
        notes.append(
            f"{skipped} file{'s' if skipped > 1 else ''} could not be read as images and "
            f"{'were' if skipped > 1 else 'was'} skipped"
        )
    if len(sizes) > 1:
        shown = ", ".join(f"{w}×{h}" for w, h in sorted(sizes)[:3]) + (", …" if len(sizes) > 3 else "")
        notes.append(f"the images came in {len(sizes)} sizes ({shown}); all were resized to {IMAGE_SIZE}×{IMAGE_SIZE}")
    elif sizes != {(IMAGE_SIZE, IMAGE_SIZE)}:
        ((w, h),) = sizes
        notes.append(f"the {w}×{h} images were resized to {IMAGE_SIZE}×{IMAGE_SIZE}")
    dataset = Dataset(source.name, norm(x_tr), y_tr, norm(x_te), y_te, tuple(classes), mean, std)
    spec = DatasetSpec(
        f"your images: {len(classes)} classes, {'grey' if grey else 'colour'} {IMAGE_SIZE}×{IMAGE_SIZE}",
        lambda _root: dataset,
        dataset.input_shape,
        len(classes),
        "cnn-large",
        "cnn-small",
        10,
        10,
        lr=1e-3,
        batch_size=min(64, len(y_tr)),
    )  # a small folder: whole-set batches
    return Loaded(dataset, spec, tuple(notes))


# ---------------------------------------------------------------- CSV files


def _load_csv(source: Source) -> Loaded:
    import pandas as pd

    try:
        frame = pd.read_csv(source.path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        reason = one_line(error)
        raise CustomDataError(f"{source.path.name} is not a CSV file that can be read ({reason})") from None
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    label = columns[-1] if source.label_column is None else source.label_column
    if label not in columns:
        raise CustomDataError(f"{source.path.name} has no column '{label}'; its columns are: {', '.join(columns[:12])}")
    features = [c for c in columns if c != label]
    if not features:
        raise CustomDataError(f"{source.path.name} has no feature columns besides the label '{label}'")
    for column in features:
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = numbers.isna() | ~np.isfinite(numbers.fillna(0).to_numpy(dtype=np.float64))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            value = frame[column].iloc[row]
            what = "is empty" if pd.isna(value) else f"holds text ({str(value)[:20]!r})"
            raise CustomDataError(
                f"column '{column}' of {source.path.name} {what} in row {row + 2} of the file; "
                "every column except the label must hold numbers"
            )
    if frame[label].isna().any():
        row = int(np.flatnonzero(frame[label].isna().to_numpy())[0])
        raise CustomDataError(f"the label column '{label}' of {source.path.name} is empty in row {row + 2} of the file")
    names = sorted(
        {str(v) for v in frame[label]}, key=lambda s: (not _is_number(s), float(s) if _is_number(s) else 0, s)
    )
    counts = {name: int((frame[label].astype(str) == name).sum()) for name in names}
    _check_classes(counts, source.path.name, f"add rows with another label in column '{label}'")
    index = {name: i for i, name in enumerate(names)}
    y = np.array([index[str(v)] for v in frame[label]], dtype=np.int64)
    x = frame[features].to_numpy(dtype=np.float32)
    train, test = stratified_split(y)
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    std[std == 0] = 1.0  # a constant column stays 0 rather than dividing by 0
    scale = lambda rows: torch.from_numpy(((x[rows] - mean) / std).astype(np.float32))  # noqa: E731
    dataset = Dataset(
        source.name,
        scale(train),
        torch.from_numpy(y[train]),
        scale(test),
        torch.from_numpy(y[test]),
        tuple(names),
        (0.0,),
        (1.0,),
    )
    spec = DatasetSpec(
        f"your table: {len(features)} features, {len(names)} classes",
        lambda _root: dataset,
        dataset.input_shape,
        len(names),
        "mlp-large",
        "mlp-small",
        30,
        20,
        batch_size=min(64, len(train)),
    )
    return Loaded(dataset, spec, ())


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# ---------------------------------------------------------------- the entry points

_LOADED: OrderedDict[str, Loaded] = OrderedDict()  # canonical name -> its load, a few kept per process
_KEEP = 4


def load(name: str, pixels: PixelLimits = PIXEL_LIMITS) -> Loaded:
    """The dataset ``name`` names, loaded once per process (by its canonical name); CustomDataError if it cannot be.
    ``pixels`` limits an image folder's images when it is read (a load this process already holds is not read
    again)."""
    source = parse(name)
    _check_exists(source)
    try:
        digest = content_hash(source)
    except OSError as error:
        raise CustomDataError(f"{source.path} could not be read ({error.strerror or error})") from None
    if source.digest is not None and source.digest != digest:
        raise CustomDataError(f"the files in {source.path} changed since this run was set up; start it again")
    canonical = Source(source.kind, source.path, source.label_column, digest).name
    if canonical not in _LOADED:
        found = parse(canonical)
        loaded = _load_folder(found, pixels) if source.kind == "folder" else _load_csv(found)
        _LOADED[canonical] = loaded
        while len(_LOADED) > _KEEP:
            _LOADED.popitem(last=False)
    _LOADED.move_to_end(canonical)
    return _LOADED[canonical]


def resolve(name: str) -> tuple[str, DatasetSpec]:
    """(the canonical name, with its content hash; its DatasetSpec): what config.validate keeps."""
    loaded = load(name)
    return loaded.dataset.name, loaded.spec
