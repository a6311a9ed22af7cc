"""What a cache gives back instead of training: a whole finished run, or a scratch baseline, with the steps and
epochs they recorded replayed as events — every consumer draws them as it drew the fresh training."""

from __future__ import annotations

import torch
from torch import nn

from kd_core.config import RunConfig
from kd_core.data.spec import Dataset
from kd_core.models.architectures import build_model
from kd_core.models.own_teacher import is_external
from kd_core.models.own_teacher import load as load_own_teacher
from kd_core.runs.cache import BaselineCache, ResultCache
from kd_core.train.records import EpochRecord, EventCallback, RunResult, StepRecord


def load_result(
    config: RunConfig, dataset: Dataset, device: torch.device, results: ResultCache, on_event: EventCallback | None
) -> RunResult | None:
    """A finished identical run from ``results``, its stored steps and epoch history replayed as events; None if
    absent."""
    entry = results.get(config.run_key())
    if entry is None:
        return None
    result = RunResult.from_json(entry["meta"]["result"], config)
    for phase, state in entry["states"].items():
        width = config.teacher_width if phase == "teacher" else config.student_width
        if phase == "teacher" and is_external(config.teacher):
            model = load_own_teacher(config.teacher, dataset.input_shape, dataset.num_classes)
        else:
            model = build_model(
                config.teacher if phase == "teacher" else config.student,
                dataset.input_shape,
                dataset.num_classes,
                width,
            )
        model.load_state_dict(state)
        result.models[phase] = model.to(device)
    result.from_results_cache = result.teacher_from_cache = True
    results.served(config.run_key())
    replay(result.history, config, on_event, result.steps)
    return result


def find_baseline(
    cache: BaselineCache, config: RunConfig, dataset: Dataset, device: torch.device, on_event: EventCallback | None
) -> tuple[nn.Module, list[EpochRecord], list[StepRecord], float] | None:
    """The scratch baseline of a validated ``config`` if a run differing only in its distillation trained it:
    (model, epoch history, stored steps, the original training seconds), replayed as events; None if absent."""
    entry = cache.get(config.baseline_key())
    if entry is None:
        return None
    model = build_model(config.student, dataset.input_shape, dataset.num_classes, config.student_width)
    model.load_state_dict(entry["states"]["baseline"])
    history = [EpochRecord.from_dict(row) for row in entry["meta"]["history"]]
    steps = [StepRecord.from_dict(row) for row in entry["meta"]["steps"]]
    replay(history, config, on_event, steps)
    return model.to(device), history, steps, entry["meta"]["seconds"]


def store_baseline(
    cache: BaselineCache,
    config: RunConfig,
    model: nn.Module,
    history: list[EpochRecord],
    steps: list[StepRecord],
    seconds: float,
) -> None:
    meta = {
        "history": [row.to_dict() for row in history],
        "steps": [row.to_dict() for row in steps],
        "seconds": seconds,
    }
    cache.put(config.baseline_key(), {"baseline": model.state_dict()}, meta)


def replay(
    history: list[EpochRecord], config: RunConfig, on_event: EventCallback | None, steps: list[StepRecord] = ()
) -> None:
    """A finished run's stored steps and epochs as events (``steps=0``: replayed, not trained), in the order
    training sent them — each epoch's steps, then its end — so every consumer draws a cached run the way it
    draws a fresh one.  A cache entry without stored steps replays its epochs only."""
    if on_event is None:
        return
    epochs = lambda phase: config.teacher_epochs if phase == "teacher" else config.epochs  # noqa: E731
    by_epoch: dict[tuple[str, int], list[StepRecord]] = {}
    for row in steps:
        by_epoch.setdefault((row.phase, row.epoch), []).append(row)
    for row in history:
        for step in by_epoch.pop((row.phase, row.epoch), []):
            on_event(step.event(epochs(step.phase)))
        on_event(row.event(epochs(row.phase)))
