"""The Ship tab's sentences: what the int8 KD student gains over the FP32 teacher, and at which batch size int8 pays.

Pure functions of measured numbers (kd_core.stats.Interval over the seeds, seconds per image); no Streamlit.  Every
word that depends on a number is chosen from it: "smaller" or "larger", "faster" or "slower", "above" or "below",
so a sentence stays true when a number goes the other way (on the digits MLPs int8 is often slower at batch 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from kd_core.stats import Interval

NAMES = {"teacher": "teacher", "student": "KD student", "baseline": "scratch student"}  # as a sentence says them


def microseconds(seconds: float) -> str:
    """A time per image in words: ``45 ns``, ``4.5 µs``, ``38 µs``, ``1.2 ms``."""
    micro = 1e6 * seconds
    if micro < 1:
        return f"{1000 * micro:.0f} ns"
    if micro >= 1000:
        return f"{micro / 1000:.1f} ms"
    return f"{micro:.1f} µs" if micro < 10 else f"{micro:.0f} µs"


def kilobytes(size: float) -> str:
    """A file's size in words: ``4.7 KB``, ``334 KB``, ``2.4 MB`` (1 KB = 1,000 bytes)."""
    if size >= 1e6:
        return f"{size / 1e6:.1f} MB"
    return f"{size / 1e3:.1f} KB" if size < 1e5 else f"{size / 1e3:.0f} KB"


def percent_interval(interval: Interval) -> str:
    """An accuracy (a fraction) as ``94.31 [89.10, 99.52]``: the mean and its 95 % interval in %, or the mean
    alone for one seed."""
    if interval.low is None:
        return f"{100 * interval.mean:.2f}"
    return f"{100 * interval.mean:.2f} [{100 * interval.low:.2f}, {100 * interval.high:.2f}]"


def _spread(interval: Interval | None, show) -> str:
    """`` (95 % interval a to b)`` where there is one that is not a single value, else nothing."""
    if interval is None or interval.low is None or interval.low == interval.high:
        return ""
    return f" (95 % interval {show(interval.low)} to {show(interval.high)})"


def ratio_words(ratio: Interval, bigger: str, smaller: str) -> str | None:
    """``ratio`` (the teacher's figure over the student's, its mean over seeds) as a comparative: "3.1× smaller" when
    the ratio is above 1, "1.2× larger" (the inverse) when below, with the 95 % interval where there is one; None
    when it rounds to 1.0× (no difference to speak of).  ``bigger``/``smaller``: the words for a ratio above and
    below 1 ("smaller"/"larger", "faster"/"slower")."""
    mean = ratio.mean
    shown = ratio.low is not None and ratio.low > 0  # a t-interval of a ratio can reach below 0: no ratio there
    if mean <= 0 or round(mean if mean >= 1 else 1 / mean, 1) == 1.0:
        return None
    times = lambda v: f"{v:.1f}×"  # noqa: E731
    if mean > 1:
        return f"{mean:.1f}× {bigger}" + (_spread(ratio, times) if shown else "")
    inverse = Interval(1 / mean, 0.0, 1 / ratio.high, 1 / ratio.low, ratio.n) if shown else None
    return f"{1 / mean:.1f}× {smaller}" + _spread(inverse, times)


def points_words(difference: Interval, what: str) -> str:
    """A difference of accuracies (fractions, student − other) in words: "1.67 points below the teacher", "0.56
    points above it", "level with it", with the 95 % interval in signed points where there is one."""
    points = 100 * difference.mean
    if round(points, 2) == 0:
        text = f"level with {what}"
    else:
        text = f"{abs(points):.2f} points {'above' if points > 0 else 'below'} {what}"
    return text + _spread(difference, lambda v: f"{100 * v:+.2f}")


@dataclass(frozen=True)
class Headline:
    """What the sentence under the chart says, each figure over the seeds (paired seed by seed).

    ``size_ratio``: the FP32 teacher's file bytes over the int8 KD student's; ``speed_ratio``: the FP32 teacher's
    seconds per image at batch 1 over the int8 KD student's; ``vs_teacher``: int8 KD student − FP32 teacher
    accuracy; ``vs_scratch``: int8 KD student − int8 scratch student accuracy (fractions).  The teacher's three are
    None when the teacher was not shipped."""

    size_ratio: Interval | None
    speed_ratio: Interval | None
    vs_teacher: Interval | None
    vs_scratch: Interval | None


def headline(numbers: Headline) -> str:
    """One sentence with the measured numbers: "The int8 KD student is 71.0× smaller and 1.4× faster than the FP32
    teacher, 1.67 points below it, and 2.08 points below the int8 student trained without the teacher."""
    scratch = "the int8 student trained without the teacher"
    parts = []
    if numbers.size_ratio is not None and numbers.speed_ratio is not None and numbers.vs_teacher is not None:
        size = ratio_words(numbers.size_ratio, "smaller", "larger")
        speed = ratio_words(numbers.speed_ratio, "faster", "slower")
        if size and speed:
            parts.append(f"{size} and {speed} than the FP32 teacher")
        elif size or speed:
            same = "about as fast" if size else "about the same size"
            parts.append(f"{size or speed} than the FP32 teacher and {same}")
        else:
            parts.append("about the same size as the FP32 teacher and about as fast")
        parts.append(points_words(numbers.vs_teacher, "it"))
    if numbers.vs_scratch is not None:
        parts.append(points_words(numbers.vs_scratch, scratch))
    if not parts:
        return ""
    if len(parts) == 1:
        return f"The int8 KD student is {parts[0]}."
    return f"The int8 KD student is {', '.join(parts[:-1])}, and {parts[-1]}."


Curve = Sequence[tuple[int, float]]  # (batch size, seconds per image): the median over the timing rounds


def int8_pays(model: str, fp32: Curve, int8: Curve) -> str:
    """Whether the int8 file is faster than the FP32 one at each batch size measured, in one sentence: "int8 is
    slower than FP32 for the KD student at batch 1 (5.4 vs 4.5 µs per image); it pays from batch 64 (1.1 vs 1.9
    µs)."  ``model``: "teacher", "student" or "baseline"; the curves' batch sizes are the same, smallest first."""
    name = NAMES.get(model, model)
    fp32_at, int8_at = dict(fp32), dict(int8)
    batches = [b for b, _ in fp32 if b in int8_at]
    if not batches:
        return ""
    faster = {b: int8_at[b] < fp32_at[b] for b in batches}
    at = lambda b: f"{microseconds(int8_at[b])} vs {microseconds(fp32_at[b])}"  # noqa: E731
    first, last = batches[0], batches[-1]
    if all(faster.values()):
        return (
            f"int8 is faster than FP32 for the {name} at every batch size measured, {first} to {last} images "
            f"({at(first)} per image at batch {first}, {at(last)} at {last})."
        )
    if not any(faster.values()):
        return (
            f"int8 does not pay for the {name} at any batch size measured, {first} to {last} images: it is slower "
            f"than FP32 at each ({at(first)} per image at batch {first}, {at(last)} at {last})."
        )
    # The smallest batch from which int8 is faster at every larger batch too: where it starts to pay.
    tail = [b for i, b in enumerate(batches) if all(faster[c] for c in batches[i:])]
    if not faster[first] and tail:
        pays = tail[0]
        return (
            f"int8 is slower than FP32 for the {name} at batch {first} ({at(first)} per image); it pays from batch "
            f"{pays} ({at(pays)})."
        )
    wins = [b for b in batches if faster[b]]
    losses = [b for b in batches if not faster[b]]
    listed = lambda bs: ", ".join(f"{b} ({at(b)})" for b in bs)  # noqa: E731
    return (
        f"int8 is faster than FP32 for the {name} at batch {listed(wins)} and slower at batch {listed(losses)} "
        "(per image)."
    )


def onnxruntime_code(
    file: str, input_name: str, shape: Sequence, dtype: str, mean: Sequence[float] = (), std: Sequence[float] = ()
) -> str:
    """The few lines of Python that run a downloaded file with onnxruntime and print a class per image: the
    file's own input name, shape (a free dimension, the batch, given as 1) and element type, and the
    normalisation the model was trained with."""
    example = tuple(d if isinstance(d, int) and d > 0 else 1 for d in shape)
    free = [str(d) for d in shape if not (isinstance(d, int) and d > 0)]
    note = f"  # {', '.join(free)}: any size" if free else "  # this file's fixed shape"
    normalise = ""
    if mean and std:
        m = ", ".join(f"{v:g}" for v in mean)
        s = ", ".join(f"{v:g}" for v in std)
        single = len(mean) == 1
        normalise = (
            f"# pixels scaled to 0..1, then normalised as in training: (x - {m}) / {s}"
            + ("" if single else " per channel")
            + "\n"
        )
    return (
        "import numpy as np\n"
        "import onnxruntime as ort\n\n"
        f'session = ort.InferenceSession("{file}", providers=["CPUExecutionProvider"])\n'
        f"{normalise}"
        f"images = np.zeros({example}, dtype=np.{dtype}){note}\n"
        f'logits = session.run(None, {{"{input_name}": images}})[0]\n'
        "print(logits.argmax(axis=1))  # the class of each image\n"
    )
