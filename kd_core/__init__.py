"""kd_core: the knowledge-distillation engine behind kd-dashboard (no Streamlit in here).

Read in this order: losses (the formula), models and data (registries), config (one dataclass), train (the
loop), pipeline (a run), sweeps and experiments (many runs), cli (the commands).
"""

from kd_core.config import ConfigError, RunConfig, validate
from kd_core.data.datasets import DATASETS, Dataset, DatasetUnavailable, load_dataset
from kd_core.methods.losses import LOSSES, LossParts, distillation_loss, soften
from kd_core.models.architectures import ARCHITECTURES, build_model, count_params, size_bytes
from kd_core.runs.cache import ResultCache, TeacherCache
from kd_core.runs.pipeline import RunSetup, run
from kd_core.train.loop import Cancelled, Diverged, evaluate, predict_logits
from kd_core.train.records import EpochRecord, PhaseReport, ProgressEvent, RunResult

__all__ = [
    "ARCHITECTURES",
    "Cancelled",
    "ConfigError",
    "DATASETS",
    "Dataset",
    "DatasetUnavailable",
    "Diverged",
    "EpochRecord",
    "LOSSES",
    "LossParts",
    "PhaseReport",
    "ProgressEvent",
    "ResultCache",
    "RunConfig",
    "RunResult",
    "RunSetup",
    "TeacherCache",
    "build_model",
    "count_params",
    "distillation_loss",
    "evaluate",
    "load_dataset",
    "predict_logits",
    "run",
    "size_bytes",
    "soften",
    "validate",
]
