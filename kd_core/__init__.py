"""kd_core: the knowledge-distillation engine behind kd-dashboard (no Streamlit in here).

Read in this order: methods/losses.py (the formula), data/ and models/ (registries by name), config.py (one
dataclass), train/loop.py (the loop), runs/pipeline.py (a run), studies/ (many runs), cli/ (the commands).
The packages are layers; each may import only those before it (tests/test_structure.py checks every import):

    stats.py, files.py   summaries over seeds; a file written whole, an error in one line
    data/                datasets by name, your own folder or CSV, a drawn digit
    models/              architectures by name, your own teacher, inference time
    methods/             distillation methods: one module each, one line in registry.METHODS
    config.py            RunConfig: every setting of a run, and validate
    train/               the training loop, its typed records, CPU fast paths
    execution/           this process, worker processes or Ray, behind one interface
    runs/                a run: its setup, caches, seeds and verdict
    deploy/              a run's models shipped: FP32 and int8 ONNX files, measured through onnxruntime
    studies/             lessons, sweeps, Hinton's experiments
    board/               the class board
    cli/                 kd-train and kd-sweep

This module is the public API: what the page, the benchmarks and the tests import by name.
"""

from kd_core.config import ConfigError, RunConfig, validate
from kd_core.data.datasets import DATASETS, load_dataset
from kd_core.data.spec import Dataset, DatasetUnavailable
from kd_core.deploy.export import DeployError, onnx_bytes
from kd_core.deploy.measure import BatchTiming, count_macs
from kd_core.deploy.quantize import quantize
from kd_core.deploy.ship import Deployment, ShippedModel, SummaryRow, deployment_json, ship, ship_seeds, summarize
from kd_core.methods.losses import LossParts, distillation_loss, soften
from kd_core.methods.registry import METHODS
from kd_core.models.architectures import ARCHITECTURES, build_model, count_params, size_bytes
from kd_core.models.own_teacher import TeacherFileError, onnx_from_zip
from kd_core.runs.cache import ResultCache, TeacherCache
from kd_core.runs.pipeline import run
from kd_core.runs.setup import RunSetup
from kd_core.train.loop import Cancelled, Diverged, evaluate, predict_logits
from kd_core.train.records import EpochRecord, PhaseReport, ProgressEvent, RunResult

__all__ = [
    "ARCHITECTURES",
    "BatchTiming",
    "Cancelled",
    "ConfigError",
    "DATASETS",
    "Dataset",
    "DatasetUnavailable",
    "DeployError",
    "Deployment",
    "Diverged",
    "EpochRecord",
    "LossParts",
    "METHODS",
    "PhaseReport",
    "ProgressEvent",
    "ResultCache",
    "RunConfig",
    "RunResult",
    "RunSetup",
    "ShippedModel",
    "SummaryRow",
    "TeacherCache",
    "TeacherFileError",
    "build_model",
    "count_macs",
    "count_params",
    "deployment_json",
    "distillation_loss",
    "evaluate",
    "load_dataset",
    "onnx_bytes",
    "onnx_from_zip",
    "predict_logits",
    "quantize",
    "run",
    "ship",
    "ship_seeds",
    "size_bytes",
    "soften",
    "summarize",
    "validate",
]
