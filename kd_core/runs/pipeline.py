"""A run, from settings to results: teacher (cached), KD student and scratch baseline, evaluated.

    run(config, on_event, stop, cache, results) -> RunResult          # kd-train, the dashboard's Distill

Stopping raises ``Cancelled`` from the training loop; ``run`` turns it into a result with ``status="cancelled"``.
With a results cache, an identical finished run is loaded instead of trained (runs are deterministic); the
setup of a run, shared by every student trained on it, is kd_core/runs/setup.py.
"""

from __future__ import annotations

from kd_core.config import RunConfig
from kd_core.runs.cache import ResultCache, TeacherCache
from kd_core.runs.setup import RunSetup, report
from kd_core.runs.stored import load_result
from kd_core.runs.transfer import kept_classes_report, omitted_class_report
from kd_core.train.loop import Cancelled
from kd_core.train.records import EventCallback, RunResult, StopFlag


def run(
    config: RunConfig,
    on_event: EventCallback | None = None,
    stop: StopFlag | None = None,
    cache: TeacherCache | None = None,
    results: ResultCache | None = None,
) -> RunResult:
    """Teacher (cached), KD student and — if ``config.baseline`` — the scratch baseline, evaluated.

    Raises ConfigError for bad settings, DatasetUnavailable, or Diverged.  A set ``stop`` ends the run between
    steps; the result then has ``status="cancelled"``.  With ``results``, an identical finished run is loaded
    instead of trained (runs are deterministic).
    """
    setup = RunSetup(config)
    if results is None:
        return _train_run(setup, on_event, stop, cache)
    with results.claim(setup.config.run_key(), stop) as claimed:  # one process trains it, the others load it
        cached = load_result(setup.config, setup.dataset, setup.device, results, on_event) if claimed else None
        if cached is not None or not claimed:
            return cached or RunResult(setup.config, "cancelled")
        result = _train_run(setup, on_event, stop, cache)
        if result.status == "completed":
            states = {phase: model.state_dict() for phase, model in result.models.items()}
            results.put(setup.config.run_key(), states, {"result": result.to_json()})
        return result


def _train_run(
    setup: RunSetup, on_event: EventCallback | None, stop: StopFlag | None, cache: TeacherCache | None
) -> RunResult:
    config = setup.config
    cache = cache if cache is not None else TeacherCache()
    result = RunResult(config, "cancelled", seconds={"teacher": 0.0, "student": 0.0, "baseline": 0.0})
    try:
        teacher = setup.teacher(cache, on_event, stop)
        result.history, result.seconds["teacher"] = list(teacher.history), teacher.seconds
        result.steps = list(teacher.steps)
        result.teacher_from_cache, result.models["teacher"] = teacher.from_cache, teacher.model
        result.teacher = report(teacher.model, setup.teacher_evaluation())
        for phase in ("student", "baseline") if config.baseline else ("student",):
            if phase == "baseline":
                trained = setup.scratch_baseline(config, cache, on_event, stop)
                result.baseline_from_cache = trained.from_cache
            else:
                trained = setup.train_student(config, phase, on_event, stop)
            result.models[phase] = trained.model
            result.history += trained.history
            result.steps += trained.steps
            result.seconds[phase] = trained.seconds
            setattr(result, phase, trained.report)
        if config.omit_class is not None:
            result.omitted_class = omitted_class_report(setup, result)
        if config.keep_classes is not None:
            result.kept_classes = kept_classes_report(setup, result)
    except Cancelled as stopped:
        result.history += stopped.history
        return result
    result.status = "completed"
    return result
