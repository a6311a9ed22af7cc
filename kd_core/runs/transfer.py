"""The paper's transfer experiments, reported: students that never saw a class (``omit_class``), or that saw only a
few (``keep_classes``, the 7s and 8s), on the test digits they never saw — before and after the bias correction,
its amount chosen on the validation split (``holdout``) and never on the test set."""

from __future__ import annotations

from kd_core.data.datasets import holdout_indices
from kd_core.runs.bias import Classes, bias_correction, choose_bias
from kd_core.runs.setup import RunSetup
from kd_core.train.loop import predict_logits
from kd_core.train.records import KeptClassesReport, OmittedClassReport, RunResult


def omitted_class_report(setup: RunSetup, result: RunResult) -> OmittedClassReport:
    """The students on the class they never saw, and the KD student after a bias correction chosen on the
    validation split (when the config holds one out)."""
    cls = setup.config.omit_class
    baseline = None if result.baseline is None else result.baseline.per_class_accuracy[cls]
    return OmittedClassReport(cls, result.student.per_class_accuracy[cls], baseline, _corrected(setup, result, cls))


def kept_classes_report(setup: RunSetup, result: RunResult) -> KeptClassesReport:
    """The students on the test digits of every class they never saw, and the KD student after those classes'
    logits are raised by one amount chosen on the validation split (when the config holds one out)."""
    unseen = [c for c in range(setup.dataset.num_classes) if c not in setup.config.keep_classes]
    on_unseen = lambda phase: (
        bias_correction(  # noqa: E731
            predict_logits(result.models[phase], setup.test[0]).cpu(), setup.dataset.y_test, unseen, 0.0
        ).class_accuracy
    )
    baseline = None if result.baseline is None else on_unseen("baseline")
    return KeptClassesReport(
        setup.config.keep_classes, on_unseen("student"), baseline, _corrected(setup, result, unseen)
    )


def _corrected(setup: RunSetup, result: RunResult, raised: Classes) -> dict | None:
    """The KD student with ``raised``'s logits raised by the bias best on the validation split; None without one."""
    if setup.config.holdout <= 0:
        return None
    held = holdout_indices(setup.dataset.y_train, setup.config.holdout).to(setup.device)
    student = result.models["student"]
    return choose_bias(
        predict_logits(student, setup.x_train.index_select(0, held)).cpu(),
        setup.dataset.y_train[held.cpu()],
        predict_logits(student, setup.test[0]).cpu(),
        setup.dataset.y_test,
        raised,
    ).to_dict()
