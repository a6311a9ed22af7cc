"""Property-based: whatever a user types, validation returns an in-range config or one clear ConfigError line."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from kd_core.config import MAX_EPOCHS, MAX_LR, ConfigError, RunConfig, validate
from kd_core.data.datasets import DATASETS
from kd_core.models.architectures import ARCHITECTURES

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.sampled_from(["4", " 20 ", "1e3", "nan", "-1", "0.5"]),
)
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6), anything)
names = st.one_of(st.sampled_from(list(DATASETS) + list(ARCHITECTURES) + ["imagenet", "", "DIGITS"]), anything)

configs = st.builds(
    RunConfig,
    dataset=names,
    teacher=st.one_of(st.none(), names),
    student=st.one_of(st.none(), names),
    teacher_epochs=numbers,
    epochs=numbers,
    temperature=numbers,
    lam=numbers,
    lr=numbers,
    batch_size=numbers,
    seed=numbers,
    student_fraction=numbers,
    omit_class=st.one_of(st.none(), numbers),
    optimizer=st.one_of(st.sampled_from(["adam", "sgd"]), anything),
    device=st.one_of(st.sampled_from(["auto", "cpu"]), anything),
)


@settings(max_examples=600, deadline=None)
@given(configs, st.one_of(st.none(), st.integers(1, 5000)))
def test_validation_accepts_only_in_range_configs(config: RunConfig, train_size: int | None):
    try:
        valid = validate(config, train_size=train_size)
    except ConfigError as error:
        message = str(error)
        # One line: the setting, the value (cut at 40 characters) and every allowed choice (11 architectures today).
        assert message and "\n" not in message and len(message) < 300
        return
    assert valid.dataset in DATASETS and valid.teacher in ARCHITECTURES and valid.student in ARCHITECTURES
    assert math.isfinite(valid.temperature) and valid.temperature > 0
    assert 0.0 <= valid.lam <= 1.0
    assert 0 < valid.lr <= MAX_LR
    assert 1 <= valid.epochs <= MAX_EPOCHS and 1 <= valid.teacher_epochs <= MAX_EPOCHS
    assert 1 <= valid.batch_size <= (train_size or 1_000_000)
    assert 0 < valid.student_fraction <= 1
    assert valid.omit_class is None or 0 <= valid.omit_class <= 9
    assert isinstance(valid.seed, int) and valid.seed >= 0
    assert validate(valid, train_size=train_size) == valid  # resolving is idempotent


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.01, max_value=100), st.floats(min_value=0, max_value=1), st.integers(1, 50))
def test_every_in_range_setting_is_accepted(temperature: float, lam: float, epochs: int):
    valid = validate(RunConfig(temperature=temperature, lam=lam, epochs=epochs))
    assert (valid.temperature, valid.lam, valid.epochs) == (temperature, lam, epochs)
