"""kd_core: the knowledge-distillation engine behind kd-dashboard (no Streamlit in here)."""
from .cache import ResultCache, TeacherCache
from .config import ConfigError, RunConfig, validate
from .data import DATASETS, Dataset, DatasetUnavailable, load_dataset
from .engine import Diverged, ProgressEvent, RunResult, evaluate, predict_logits, run
from .losses import LossParts, distillation_loss, soften
from .models import ARCHITECTURES, DEFAULT_PAIRS, build_model, count_params, size_bytes

__all__ = [
    "ARCHITECTURES", "ConfigError", "DATASETS", "DEFAULT_PAIRS", "Dataset", "DatasetUnavailable", "Diverged",
    "LossParts", "ProgressEvent", "RunConfig", "ResultCache", "RunResult", "TeacherCache", "build_model", "count_params",
    "distillation_loss", "evaluate", "load_dataset", "predict_logits", "run", "size_bytes", "soften", "validate",
]
