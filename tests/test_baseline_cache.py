"""The scratch baseline learns from the labels alone: a run that changes only T, λ or the distillation loss finds
it in the teacher cache — the very same weights and numbers it would train — and anything else trains it anew."""

from __future__ import annotations

import pytest
import torch

from kd_core import ProgressEvent, RunConfig, TeacherCache, run
from kd_core.config import validate

CONFIG = RunConfig(teacher_epochs=2, epochs=3, seed=5, student_fraction=0.3, temperature=4.0)


def weights_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    one, two = a.state_dict(), b.state_dict()
    return one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    folder = tmp_path_factory.mktemp("baselines")
    return run(CONFIG, cache=TeacherCache(folder)), folder


@pytest.mark.parametrize("change", [{"temperature": 8.0}, {"lam": 0.3}, {"loss": "dkd"}])
def test_a_change_of_distillation_reuses_the_baseline_bit_for_bit(first, change, tmp_path):
    trained, folder = first
    events: list[ProgressEvent] = []
    other = run(CONFIG.replace(**change), on_event=events.append, cache=TeacherCache(folder))
    assert other.baseline_from_cache and not trained.baseline_from_cache
    assert other.baseline == trained.baseline and weights_equal(other.models["baseline"], trained.models["baseline"])
    assert other.seconds["baseline"] == trained.seconds["baseline"]  # the original training time, as for a teacher
    baseline_steps = [e for e in events if e.phase == "baseline" and e.kind == "step"]
    assert baseline_steps and all(e.replayed for e in baseline_steps)  # the loss chart is redrawn from the stored steps
    assert not any(e.replayed for e in events if e.phase == "student")  # the KD student trains
    assert other.student != trained.student
    # What it would have trained: the same run in an empty cache.
    fresh = run(CONFIG.replace(**change), cache=TeacherCache(tmp_path))
    assert not fresh.baseline_from_cache and fresh.baseline == other.baseline
    assert weights_equal(fresh.models["baseline"], other.models["baseline"])
    assert other.to_json()["baseline_from_cache"] is True


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 6},
        {"lr": 0.02},
        {"epochs": 4},
        {"student_fraction": 0.4},
        {"batch_size": 32},
        {"student_width": 12},
        {"omit_class": 3},
    ],
)
def test_a_change_the_baseline_depends_on_trains_it_again(first, change):
    trained, folder = first
    other = run(CONFIG.replace(**change), cache=TeacherCache(folder))
    assert not other.baseline_from_cache
    assert other.baseline != trained.baseline


def test_the_key_leaves_out_exactly_what_only_distillation_reads():
    base = validate(CONFIG)
    same = [
        base.replace(temperature=2.0),
        base.replace(lam=0.1),
        base.replace(loss="dist"),
        base.replace(baseline=False),
    ]
    assert {c.baseline_key() for c in same} == {base.baseline_key()}
    different = [
        base.replace(seed=1),
        base.replace(optimizer="sgd"),
        base.replace(schedule="cosine"),
        base.replace(teacher_epochs=3),
        base.replace(holdout=0.1),
        base.replace(dataset="mnist"),
    ]
    assert base.baseline_key() not in {c.baseline_key() for c in different}
    assert base.baseline_key() != base.run_key()


def test_a_cache_kept_in_memory_keeps_its_baselines_there(tmp_path):
    cache = TeacherCache(tmp_path, on_disk=False)
    run(CONFIG, cache=cache)
    again = run(CONFIG.replace(temperature=2.0), cache=cache)
    assert again.baseline_from_cache and not list(tmp_path.iterdir())


def test_the_page_counts_a_cached_baseline_as_one_not_to_train(tmp_path, monkeypatch):
    """The Distill estimate leaves out the baselines a rerun at another T will find (dashboard.page.resources)."""
    from dashboard.page import resources

    cache = TeacherCache(tmp_path)
    monkeypatch.setattr(resources, "teacher_cache", lambda: cache)
    assert not resources.baseline_cached(CONFIG)
    run(CONFIG, cache=cache)
    assert resources.baseline_cached(CONFIG.replace(temperature=9.0))
    assert not resources.baseline_cached(CONFIG.replace(seed=9))
    assert not resources.baseline_cached(CONFIG.replace(lr=-1.0))  # settings that cannot run: nothing to find
