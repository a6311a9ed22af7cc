"""The values the sidebar's controls can take, how the page names them, and the learning rate to suggest.

Shared by the sidebar (dashboard/page/sidebar.py), the links' checks (dashboard/page/links.py) and the job panel's
messages (dashboard/page/job_panel.py), with no Streamlit in it: the job panel can use it without importing the sidebar.
"""

from __future__ import annotations

from kd_core import DATASETS, RunConfig
from kd_core.models.architectures import ARCHITECTURES
from kd_core.studies.lessons import LESSONS

MAX_SEEDS = 10


def _with_lesson_values(base: list, field: str) -> list:
    """A widget's options plus every value a lesson sets for ``field``, sorted: a lesson never picks a value its
    widget cannot show."""
    extra = [lesson.settings[field] for lesson in LESSONS.values() if lesson.settings.get(field) is not None]
    extra += [getattr(spec, field) for spec in DATASETS.values() if getattr(spec, field, None) is not None]
    return sorted(set(base) | set(extra))


# No 1, 3 or 10: with those (and 0.3) Adam's loss explodes at step 2 on digits and MNIST.  0.3 stays, to show it.
LEARNING_RATES = _with_lesson_values([1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3], "lr")
BATCH_SIZES = _with_lesson_values([16, 32, 64, 128, 256, 512], "batch_size")
FRACTIONS = _with_lesson_values([0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0], "student_fraction")
# Hidden units of an MLP student or channels of a CNN student; every architecture's own width is an option too.
WIDTHS = sorted(
    set(_with_lesson_values([1, 2, 4, 8, 16, 32, 64, 128, 256], "student_width"))
    | {a.width for a in ARCHITECTURES.values()}
)
MAX_EPOCHS = max([50, *(lesson.settings.get("epochs") or 0 for lesson in LESSONS.values())])
MAX_TEACHER_EPOCHS = max([100, *(lesson.settings.get("teacher_epochs") or 0 for lesson in LESSONS.values())])
# The sidebar's controls, by RunConfig field (plus "seeds", which is not a RunConfig field).
CONTROLS = (
    "dataset",
    "teacher",
    "student",
    "student_width",
    "temperature",
    "lam",
    "loss",
    "student_fraction",
    "omit_class",
    "epochs",
    "teacher_epochs",
    "lr",
    "batch_size",
    "seed",
)
ALL_CONTROLS = (*CONTROLS, "seeds")
# Slider ranges (low, high, step), shared with the links' checks (dashboard/page/links.py).  T up to the highest a
# lesson uses (hinton-mnist's 50), so that every lesson's T sits on the slider.
MAX_TEMPERATURE = max([20.0, *(float(lesson.settings.get("temperature") or 0) for lesson in LESSONS.values())])
SLIDERS = {
    "temperature": (1.0, MAX_TEMPERATURE, 0.5),
    "lam": (0.0, 1.0, 0.05),
    "epochs": (1, MAX_EPOCHS, 1),
    "teacher_epochs": (1, MAX_TEACHER_EPOCHS, 1),
    "seed": (0, 100, 1),
    "seeds": (1, MAX_SEEDS, 1),
}
STEPS = {"student_width": WIDTHS, "student_fraction": FRACTIONS, "lr": LEARNING_RATES, "batch_size": BATCH_SIZES}
# How the page's messages name a setting.
SHORT_NAMES = {
    "dataset": "dataset",
    "teacher": "teacher",
    "student": "student",
    "student_width": "student width",
    "temperature": "T",
    "lam": "λ",
    "loss": "loss",
    "student_fraction": "students' share",
    "omit_class": "hidden class",
    "epochs": "epochs",
    "teacher_epochs": "teacher epochs",
    "lr": "lr",
    "batch_size": "batch size",
    "seed": "seed",
    "seeds": "seeds",
}


def format_value(field: str, value) -> str:
    """A setting as the page and a link write it: 4 not 4.0, "none" for no hidden class."""
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def suggested_lr(config: RunConfig) -> float | None:
    """After a divergence: the largest learning rate on the slider below the one that diverged and at most the
    dataset's default (which trains every architecture here); None if there is none lower."""
    default = DATASETS[config.dataset].lr
    lower = [lr for lr in LEARNING_RATES if lr < (config.lr or default) and lr <= default]
    return max(lower) if lower else None
