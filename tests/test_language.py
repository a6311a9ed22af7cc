"""The language half of the engine (kd_core/language): the causal transformer, teacher and students trained on the
built-in corpus at toy sizes (seconds), the teacher cache, on-policy and sequence-level training, progress events,
samples and next-character distributions, the seeds runner, and the mode-seeking picture."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
import torch

from kd_core.config import ConfigError
from kd_core.execution.workers import InProcess
from kd_core.language.corpus import grammar_corpus
from kd_core.language.model import ModelSize, parameter_count
from kd_core.language.modes import fit_modes
from kd_core.language.results import run_language
from kd_core.language.samples import next_char_distributions, sample_text
from kd_core.language.seeds import language_seeds
from kd_core.language.train import (
    LanguageConfig,
    seeded_model,
    teacher_key,
    train_student,
    train_teacher,
    validate,
    validation_bits,
)
from kd_core.runs.cache import TeacherCache

TINY = LanguageConfig(
    context=16,
    teacher_layers=2,
    teacher_width=32,
    teacher_heads=2,
    student_layers=1,
    student_width=16,
    student_heads=1,
    teacher_steps=80,
    steps=60,
    batch_size=8,
    lr=1e-2,
    eval_every=20,
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> TeacherCache:
    return TeacherCache(tmp_path_factory.mktemp("language-teachers"))


@pytest.fixture(scope="module")
def teacher(cache):
    return train_teacher(TINY, cache)


# ---- the model ---------------------------------------------------------------------------------------------------


def test_the_transformer_is_causal_and_ties_its_embedding():
    model = seeded_model(27, 16, ModelSize(2, 32, 4), seed=0)
    tokens = torch.randint(0, 27, (2, 16), generator=torch.Generator().manual_seed(0))
    changed = tokens.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 27
    before, after = model(tokens), model(changed)
    assert before.shape == (2, 16, 27)
    assert torch.equal(before[:, :10], after[:, :10])  # no position sees a later one
    assert not torch.allclose(before[:, 10:], after[:, 10:])
    assert model.head.weight is model.token.weight
    assert parameter_count(model) == sum(p.numel() for p in set(model.parameters()))
    assert torch.equal(seeded_model(27, 16, ModelSize(2, 32, 4), 0).token.weight, model.token.weight)
    with pytest.raises(ValueError, match="longer than the model's context"):
        model(torch.zeros(1, 17, dtype=torch.int64))


def test_validation_bits_score_every_character_once():
    corpus = grammar_corpus()
    model = seeded_model(corpus.vocabulary, 16, ModelSize(1, 16, 1), seed=0)
    ids = corpus.validation[:301]
    bits = validation_bits(model, ids)
    # an untrained model is close to uniform over the alphabet
    assert abs(bits - math.log2(corpus.vocabulary)) < 0.2
    # every window scored whole (each target once) gives the same number when the text is one window long
    short = ids[:17]
    with torch.no_grad():
        logits = model(short[:-1].unsqueeze(0))[0]
        direct = torch.nn.functional.cross_entropy(logits, short[1:]).item() / math.log(2)
    assert validation_bits(model, short) == pytest.approx(direct, rel=1e-6)


# ---- training ------------------------------------------------------------------------------------------------------


def test_the_teacher_is_cached_by_its_settings_and_the_corpus(cache, teacher):
    assert not teacher.report.cached and teacher.report.seconds > 0
    again = train_teacher(TINY, cache)
    assert again.report.cached and again.report.validation_bits == teacher.report.validation_bits
    assert all(
        torch.equal(a, b) for a, b in zip(again.model.state_dict().values(), teacher.model.state_dict().values())
    )
    assert again.report.steps == teacher.report.steps  # the loss curve is stored with it
    corpus = grammar_corpus()
    assert teacher_key(TINY, corpus) == teacher.key
    assert teacher_key(dataclasses.replace(TINY, teacher_steps=81), corpus) != teacher.key
    assert teacher_key(dataclasses.replace(TINY, seed=5, loss="jsd", lam=0.1), corpus) == teacher.key  # students'
    replayed = []
    train_teacher(TINY, cache, on_event=replayed.append)
    assert replayed and all(event.replayed and event.phase == "teacher" for event in replayed)


def test_same_seed_same_bits_and_progress_events(teacher):
    events = []
    first = train_student(TINY, teacher, on_event=events.append)
    second = train_student(TINY, teacher)
    assert first.report.validation_bits == second.report.validation_bits
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()))
    other = train_student(dataclasses.replace(TINY, seed=1), teacher)
    assert other.report.validation_bits != first.report.validation_bits
    steps = [e for e in events if e.kind == "step"]
    rounds = [e for e in events if e.kind == "epoch"]
    assert [e.step for e in steps] == list(range(1, TINY.steps + 1)) and {e.phase for e in events} == {"student"}
    assert {"soft", "hard"} <= set(steps[-1].parts) and steps[-1].at is not None
    assert [e.step for e in rounds] == [20, 40, 60] and rounds[-1].epochs == 3
    assert [r.validation_bits for r in first.report.evaluations] == [e.parts["validation_bits"] for e in rounds]
    assert torch.get_num_threads() == 1  # restored (the tests' one thread)


def test_a_student_learns_and_the_scratch_one_is_the_baseline(teacher):
    scratch = train_student(TINY, None)
    corpus = grammar_corpus()
    assert scratch.report.phase == "baseline" and scratch.report.validation_bits < math.log2(corpus.vocabulary) - 0.5
    assert set(scratch.report.steps[0].parts) == set()  # cross-entropy alone: no parts


@pytest.mark.parametrize(
    "change",
    [
        {"loss": "reverse-kl"},
        {"loss": "jsd", "loss_args": (("beta", 0.5),)},
        {"on_policy": 0.5},
        {"sequence_level": True, "lam": 0.0},
        {"sequence_level": True, "on_policy": 0.5},
    ],
)
def test_each_sequence_loss_and_way_of_choosing_sequences_trains(teacher, change):
    config = dataclasses.replace(TINY, **change)
    student = train_student(config, teacher)
    untrained = math.log2(grammar_corpus().vocabulary)
    assert math.isfinite(student.report.validation_bits) and student.report.validation_bits < untrained - 0.5
    if "on_policy" in change:
        assert 0 < student.report.on_policy_batches < TINY.steps  # about half the batches, drawn from the seed
        assert student.report.on_policy_batches == train_student(config, teacher).report.on_policy_batches
    else:
        assert student.report.on_policy_batches == 0


def test_settings_are_checked_in_one_line():
    for change, words in (
        ({"context": 1}, "context must be a whole number from 2"),
        ({"student_width": 30, "student_heads": 4}, "student_width (30) must be divisible by student_heads (4)"),
        ({"lam": 1.5}, "lam must be a number from 0"),
        ({"temperature": 0}, "temperature must be a number above 0"),
        ({"on_policy": -0.1}, "on_policy"),
        ({"loss": "fitnets"}, "needs hidden features"),
        ({"loss": "nkd"}, "unknown loss 'nkd'"),
        ({"loss": "jsd", "loss_args": (("beta", 2),)}, "between 0 and 1"),
    ):
        with pytest.raises(ConfigError, match=re.escape(words)):
            validate(dataclasses.replace(TINY, **change))
    assert validate(dataclasses.replace(TINY, loss="jsd", loss_args=[["beta", "0.2"]])).loss_args == (("beta", 0.2),)


# ---- what the page draws ------------------------------------------------------------------------------------------


def test_next_character_distributions_and_samples(teacher):
    corpus = grammar_corpus()
    student = train_student(TINY, teacher)
    models = {"teacher": teacher.model, "student": student.model}
    dists = next_char_distributions("the old dogs ", corpus, models, temperature=2.0)
    assert set(dists) == {"teacher", "student", "truth"}
    for dist in dists.values():
        assert set(dist) == set(corpus.alphabet) and math.isclose(sum(dist.values()), 1.0, abs_tol=1e-5)
    cool = next_char_distributions("the old dogs ", corpus, models, temperature=0.5)["truth"]
    assert max(cool.values()) > max(dists["truth"].values())  # T < 1 sharpens the truth as it does the models
    long_prefix = "a dog runs. " * 10 + "the cat"
    assert "truth" in next_char_distributions(long_prefix, corpus, models)  # longer than a context: its tail
    sample = sample_text(student.model, corpus, length=60, temperature=1.0, seed=3, judge=teacher.model)
    assert len(sample.text) == 60 and set(sample.text) <= set(corpus.alphabet)
    assert sample == sample_text(student.model, corpus, length=60, temperature=1.0, seed=3, judge=teacher.model)
    assert 0 < sample.entropy_bits < math.log2(corpus.vocabulary) and sample.judge_bits > 0
    assert sample.grammatical is None or 0 <= sample.grammatical <= 1
    assert corpus.grammar.is_sentence("the dogs chase a cat and run") and not corpus.grammar.is_sentence("the dogs")
    cold = sample_text(student.model, corpus, length=60, temperature=0.3, seed=3)
    assert cold.entropy_bits < sample.entropy_bits and cold.judge_bits is None


def test_run_language_and_the_seeds_runner(cache):
    result = run_language(TINY, cache, sample_length=40)
    assert result.teacher.cached  # trained by the fixture above, found again
    assert result.kd_minus_scratch == result.student.validation_bits - result.baseline.validation_bits
    assert set(result.samples) == {"teacher", "student", "baseline"}
    assert 0.4 < result.truth_bits < 1.2 < result.student.validation_bits
    assert set(result.next_chars("a cat ")) == {"teacher", "student", "baseline", "truth"}
    assert result.to_dict()["kd_minus_scratch_bits"] == result.kd_minus_scratch
    events = []
    summary = language_seeds(TINY, seeds=2, executor=InProcess(), cache=cache, on_event=lambda i, e: events.append(i))
    assert [o.seed for o in summary.outcomes] == [0, 1]
    assert summary.outcomes[0].student.validation_bits == result.student.validation_bits  # the same seed 0
    assert summary.difference.n == 2 and summary.difference.low <= summary.difference.mean <= summary.difference.high
    assert summary.verdict in ("helps", "no clear difference", "hurts")
    assert set(events) == {-1, 0, 1}  # the teacher's replay, then each seed's
    assert summary.outcomes[0].student_sample.judge_bits > 0
    saved = json.loads(json.dumps(summary.to_dict()))
    assert saved["kd_minus_scratch_bits"]["mean"] == summary.difference.mean and len(saved["seeds"]) == 2
    assert json.loads(json.dumps(result.to_dict()))["truth_bits"] == result.truth_bits


# ---- mode-seeking and mode-covering ------------------------------------------------------------------------------


def test_forward_kl_covers_both_modes_and_reverse_kl_seeks_one():
    picture = fit_modes(betas=(0.1, 0.5, 0.9), separation=4.0, mode_sd=0.6, left_weight=0.6)
    forward, reverse = picture.fits["forward-kl"], picture.fits["reverse-kl"]
    # forward KL on a fine grid matches the mixture's moments: mean 0.6·(−2) + 0.4·2, variance 0.36 + 0.24·16
    assert forward.mean == pytest.approx(-0.4, abs=0.01) and forward.sd == pytest.approx(math.sqrt(4.2), abs=0.01)
    assert reverse.mean == pytest.approx(-2.0, abs=0.05) and reverse.sd == pytest.approx(0.6, abs=0.05)
    sds = [picture.fits[f"jsd({beta:g})"].sd for beta in (0.1, 0.5, 0.9)]
    assert sds[0] > 1.5 and sds[-1] < 0.8 and sds == sorted(sds, reverse=True)  # from covering to seeking with β
    zero, one = fit_modes(betas=(0.0, 1.0)).fits["jsd(0)"], fit_modes(betas=(1.0,)).fits["jsd(1)"]
    assert zero.mean == pytest.approx(forward.mean, abs=1e-6) and one.mean == pytest.approx(reverse.mean, abs=1e-6)
    assert len(picture.grid) == len(picture.teacher) == len(forward.density)
    assert math.isclose(sum(picture.teacher), 1.0) and math.isclose(sum(reverse.density), 1.0)


def test_the_mode_picture_is_instant():
    import time

    fit_modes()
    began = time.perf_counter()
    fit_modes()
    assert time.perf_counter() - began < 1.0
