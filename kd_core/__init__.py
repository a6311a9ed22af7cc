"""kd_core: the knowledge-distillation engine behind kd-dashboard (no Streamlit in here).

Read in this order: losses (the formula), models and data (registries), config (one dataclass), train (the
loop), pipeline (a run), sweeps and experiments (many runs), cli (the commands).
"""
from .cache import ResultCache, TeacherCache
from .config import ConfigError, RunConfig, validate
from .data import DATASETS, Dataset, DatasetUnavailable, load_dataset
from .losses import LOSSES, LossParts, distillation_loss, soften
from .models import ARCHITECTURES, build_model, count_params, size_bytes
from .pipeline import RunSetup, run
from .records import EpochRecord, PhaseReport, ProgressEvent, RunResult
from .train import Cancelled, Diverged, evaluate, predict_logits

__all__ = [
    "ARCHITECTURES", "Cancelled", "ConfigError", "DATASETS", "Dataset", "DatasetUnavailable", "Diverged", "EpochRecord",
    "LOSSES", "LossParts", "PhaseReport", "ProgressEvent", "ResultCache", "RunConfig", "RunResult", "RunSetup",
    "TeacherCache", "build_model", "count_params", "distillation_loss", "evaluate", "load_dataset", "predict_logits",
    "run", "size_bytes", "soften", "validate",
]
