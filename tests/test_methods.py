"""The distillation methods' formulas (kd_core.methods.registry) against independent float64 implementations written
from the papers and the official code, to 1e-6; the DKD identity; gradients; the cases where a method cannot apply."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kd_core.config import ConfigError, RunConfig, validate
from kd_core.methods import registry as methods
from kd_core.methods.dist import dist_parts
from kd_core.methods.dkd import dkd_parts
from kd_core.methods.logit_kd import logit_std_parts, matched_parts
from kd_core.methods.losses import hinton_kd, hinton_kd_without_t2, seed_script_kd
from kd_core.methods.registry import KD_VARIANTS, METHODS, MethodError, decompose, make_loss, normalize_args

TOL = 1e-6


def batch(n=16, c=10, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    t = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    y = torch.randint(0, c, (n,), generator=g)
    return s, t, y


# ---- references: plain NumPy, one sample at a time, written from the formulas ----------------------------------


def np_softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def np_kl(p, q):
    return float(sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q) if pi > 0))


def ref_dkd_sample(s, t, y, T):
    """Zhao et al. eq. (1)-(3): b = [p_t, 1 − p_t], p̂ = p_≠t / (1 − p_t); returns (KD, TCKD, NCKD, 1 − p_t^teacher)."""
    ps, pt = np_softmax(s / T), np_softmax(t / T)
    bs, bt = [ps[y], 1 - ps[y]], [pt[y], 1 - pt[y]]
    others = [i for i in range(len(s)) if i != y]
    hs = ps[others] / (1 - ps[y])
    ht = pt[others] / (1 - pt[y])
    return np_kl(pt, ps), np_kl(bt, bs), np_kl(ht, hs), 1 - pt[y]


def ref_mdistiller_dkd(s, t, y, T, alpha, beta):
    """mdistiller's dkd_loss (DKD.py @ e8c5bb3), transcribed: masks, cat_mask, torch.log, and the −1000 trick."""
    s, t = torch.as_tensor(s), torch.as_tensor(t)
    gt = torch.zeros_like(s).scatter_(1, y.unsqueeze(1), 1).bool()
    other = ~gt
    cat = lambda p: torch.cat([(p * gt).sum(1, keepdim=True), (p * other).sum(1, keepdim=True)], 1)  # noqa: E731
    ps, pt = cat(F.softmax(s / T, 1)), cat(F.softmax(t / T, 1))
    tckd = F.kl_div(torch.log(ps), pt, reduction="sum") * T**2 / len(y)
    pt2 = F.softmax(t / T - 1000.0 * gt, 1)
    ls2 = F.log_softmax(s / T - 1000.0 * gt, 1)
    nckd = F.kl_div(ls2, pt2, reduction="sum") * T**2 / len(y)
    return alpha * tckd + beta * nckd


def ref_pearson(a, b, eps=1e-8):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (math.sqrt((a * a).sum()) * math.sqrt((b * b).sum()) + eps))


def ref_dist(s, t, T, beta, gamma):
    """Huang et al. eq. (5)-(8): 1 − Pearson per sample (rows) and per class (columns) of softmax(z/τ), × τ²."""
    ys = np.stack([np_softmax(row / T) for row in s])
    yt = np.stack([np_softmax(row / T) for row in t])
    inter = 1 - np.mean([ref_pearson(ys[i], yt[i]) for i in range(len(ys))])
    intra = 1 - np.mean([ref_pearson(ys[:, j], yt[:, j]) for j in range(ys.shape[1])])
    return T**2 * inter, T**2 * intra


def ref_standardize(z):
    return (z - z.mean()) / (1e-7 + z.std(ddof=1))


def ref_ce(s, y):
    return float(np.mean([-math.log(np_softmax(row)[label]) for row, label in zip(s, y)]))


# ---- DKD --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("T", [0.5, 1.0, 4.0, 20.0, 50.0])
@pytest.mark.parametrize("scale", [1.0, 5.0])
def test_dkd_parts_match_the_paper_per_sample(T, scale):
    s, t, y = batch(scale=scale, seed=int(T * 10))
    got = decompose(s, t, y, T)
    for i in range(len(y)):
        kd, tckd, nckd, weight = ref_dkd_sample(s[i].numpy(), t[i].numpy(), int(y[i]), T)
        assert abs(got["kd"][i].item() - kd) < TOL
        assert abs(got["tckd"][i].item() - tckd) < TOL
        assert abs(got["nckd"][i].item() - nckd) < TOL
        assert abs(got["weight"][i].item() - weight) < TOL


@pytest.mark.parametrize("T", [0.5, 2.0, 4.0, 16.0, 50.0])
def test_identity_kd_is_tckd_plus_weighted_nckd_per_sample(T):
    s, t, y = batch(n=64, scale=4.0, seed=3)
    got = decompose(s, t, y, T)
    assert torch.allclose(got["kd"], got["tckd"] + got["weight"] * got["nckd"], atol=TOL, rtol=0)
    # per sample, not on batch means: mean(KD) ≠ mean(TCKD) + mean(1 − p_t)·mean(NCKD) in general
    assert abs(got["kd"].mean() - got["tckd"].mean() - got["weight"].mean() * got["nckd"].mean()) > 1e-6


@pytest.mark.parametrize("T", [1.0, 4.0, 8.0])
def test_dkd_matches_mdistiller(T):
    s, t, y = batch(seed=7)
    ours = dkd_parts(s, t, y, T, 0.7, epoch=100, ce=0.0, alpha=1.0, beta=8.0, warmup_epochs=20)
    assert abs(ours["total"].item() - ref_mdistiller_dkd(s, t, y, T, 1.0, 8.0).item()) < TOL


def test_dkd_total_weights_and_warmup():
    s, t, y = batch(seed=9)
    T = 4.0
    parts = dkd_parts(s, t, y, T, 0.7, epoch=5, ce=1.0, alpha=1.0, beta=8.0, warmup_epochs=20)
    ce = ref_ce(s.numpy(), y.numpy())
    per = [ref_dkd_sample(s[i].numpy(), t[i].numpy(), int(y[i]), T) for i in range(len(y))]
    tckd, nckd = T**2 * np.mean([p[1] for p in per]), T**2 * np.mean([p[2] for p in per])
    assert abs(parts["hard"].item() - ce) < TOL
    assert abs(parts["tckd"].item() - tckd) < TOL and abs(parts["nckd"].item() - nckd) < TOL
    assert abs(parts["total"].item() - (ce + 5 / 20 * (tckd + 8 * nckd))) < TOL
    later = dkd_parts(s, t, y, T, 0.7, epoch=40, ce=1.0, alpha=1.0, beta=8.0, warmup_epochs=20)
    assert abs(later["total"].item() - (ce + tckd + 8 * nckd)) < TOL


def test_dkd_with_confident_teacher_stays_finite_where_mdistiller_gives_nan():
    s, t, y = batch(n=8, seed=11)
    t = t.clone()
    t[torch.arange(8), y] = 8000.0  # p_t of the teacher is 1 to double precision: 1 − p_t underflows
    s = s.clone()
    s[torch.arange(8), y] = -8000.0  # the student puts no mass on the target: mdistiller's log(p_t) = −inf
    got = decompose(s, t, y, 4.0)
    assert torch.isfinite(got["tckd"]).all() and torch.isfinite(got["nckd"]).all()
    assert torch.allclose(got["kd"], got["tckd"] + got["weight"] * got["nckd"], atol=TOL, rtol=1e-12)
    assert not torch.isfinite(ref_mdistiller_dkd(s, t, y, 4.0, 1.0, 8.0))  # the NaN the log-space form avoids
    # A confident teacher: KD is almost all TCKD; the non-target weight is ~0 and DKD's β does not depend on it.
    assert (got["weight"] < 1e-100).all()


def test_two_classes_kd_is_tckd_and_dkd_says_nckd_cannot_apply():
    s, t, y = batch(c=2, seed=13)
    got = decompose(s, t, y, 2.0)
    assert torch.allclose(got["kd"], got["tckd"], atol=TOL, rtol=0)
    with pytest.raises(MethodError, match="NCKD needs at least 3 classes"):
        make_loss("dkd")(s, t, y, 2.0, 0.7)
    with pytest.raises(MethodError, match="at least 3 classes"):
        methods.check_applies("dkd", 2)


# ---- DIST, logit standardisation, weight-matched KD -------------------------------------------------------------


@pytest.mark.parametrize("T", [0.5, 1.0, 4.0, 50.0])
def test_dist_matches_the_formula(T):
    s, t, y = batch(seed=17)
    parts = dist_parts(s, t, y, T, 0.7, epoch=1, ce=1.0, weight=2.0, beta=1.0, gamma=1.0)
    inter, intra = ref_dist(s.numpy(), t.numpy(), T, 1.0, 1.0)
    ce = ref_ce(s.numpy(), y.numpy())
    assert abs(parts["inter"].item() - inter) < TOL
    assert abs(parts["intra"].item() - intra) < TOL
    assert abs(parts["total"].item() - (ce + 2.0 * (inter + intra))) < TOL


def test_dist_class_term_needs_a_batch_of_two():
    s, t, y = batch(n=1)
    with pytest.raises(MethodError, match="batch of at least 2"):
        make_loss("dist")(s, t, y, 4.0, 0.7)
    assert torch.isfinite(make_loss("dist", (("gamma", 0.0),))(s, t, y, 4.0, 0.7)["total"])  # the sample term alone
    with pytest.raises(MethodError, match="last batch of 1"):
        methods.check_batches("dist", 129, 64)
    methods.check_batches("dist", 130, 64)
    methods.check_batches("kd", 129, 64)


@pytest.mark.parametrize("T", [0.5, 2.0, 4.0, 50.0])
def test_logit_standardisation_matches_the_formula(T):
    s, t, y = batch(seed=19)
    parts = logit_std_parts(s, t, y, T, 0.7, epoch=1, ce=0.1, weight=9.0)
    soft = T**2 * np.mean(
        [
            np_kl(np_softmax(ref_standardize(b.numpy()) / T), np_softmax(ref_standardize(a.numpy()) / T))
            for a, b in zip(s, t)
        ]
    )
    assert abs(parts["soft"].item() - soft) < TOL
    assert abs(parts["total"].item() - (0.1 * ref_ce(s.numpy(), y.numpy()) + 9.0 * soft)) < TOL
    # standardised: the loss does not change when either model's logits are shifted and scaled
    moved = logit_std_parts(3 * s + 5, 0.5 * t - 2, y, T, 0.7, epoch=1, ce=0.0, weight=1.0)
    assert abs(moved["soft"].item() - soft) < 1e-5


@pytest.mark.parametrize("T", [0.5, 4.0, 50.0])
def test_weight_matched_kd_is_kd_scaled(T):
    s, t, y = batch(seed=23)
    matched = matched_parts(s, t, y, T, 0.7, epoch=3, ce=1.0, weight=9.0, warmup_epochs=20)
    kd = T**2 * np.mean([ref_dkd_sample(s[i].numpy(), t[i].numpy(), int(y[i]), T)[0] for i in range(len(y))])
    assert abs(matched["soft"].item() - kd) < TOL
    # the control is DKD's terms with β replaced by the teacher's own per-sample weight 1 − p_t, scaled by α + β
    split = decompose(s, t, y, T)
    assert abs(matched["soft"].item() - T**2 * (split["tckd"] + split["weight"] * split["nckd"]).mean().item()) < TOL
    assert abs(matched["total"].item() - (ref_ce(s.numpy(), y.numpy()) + 3 / 20 * 9.0 * kd)) < TOL


def test_hintons_three_are_their_plain_loss_functions_and_the_sidebars_choices():
    plain = {"kd": hinton_kd, "kd-no-t2": hinton_kd_without_t2, "seed-script": seed_script_kd}
    for name, loss in plain.items():
        assert make_loss(name) is loss  # the trainer gets the function itself: bit for bit the recorded runs
    assert KD_VARIANTS == tuple(plain)


# ---- gradients --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [("dkd", {}), ("dist", {}), ("logit-std", {}), ("kd-matched", {}), ("dkd", {"alpha": 2.0, "beta": 0.5})],
)
@pytest.mark.parametrize("T", [0.5, 4.0, 20.0])
def test_gradcheck_float64(name, args, T):
    s, t, y = batch(n=6, c=5, seed=29)
    loss = make_loss(name, tuple(args.items()))
    loss.on_step(7, None)
    s = s.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: loss(z, t, y, T, 0.7)["total"], (s,), eps=1e-6, atol=1e-5)


def test_gradcheck_dkd_parts_with_respect_to_both_models():
    s, t, y = batch(n=5, c=4, seed=31)
    s, t = s.clone().requires_grad_(True), t.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: torch.stack(list(decompose(a, b, y, 3.0).values())), (s, t))


# ---- arguments and applicability --------------------------------------------------------------------------------


def test_loss_args_are_checked_and_sorted():
    assert normalize_args("dkd", {"beta": "2", "alpha": 1}) == (("alpha", 1.0), ("beta", 2.0))
    assert normalize_args("kd", ()) == ()
    for bad, message in (
        ((("gamma", 1),), "no hyperparameter 'gamma'"),
        ((("beta", -1),), "between 0 and 100"),
        ((("beta", "nan"),), "between"),
        ((("warmup_epochs", 2.5),), "whole number"),
        ((("beta", 1), ("beta", 2)), "given twice"),
    ):
        with pytest.raises(MethodError, match=message):
            normalize_args("dkd", bad)


def test_every_method_has_its_metadata():
    for m in METHODS.values():
        assert m.description.endswith(".") and m.reference
        for key, param in m.params.items():
            assert param.low <= param.default <= param.high, (m.name, key)
    assert METHODS["dkd"].needs_epoch and METHODS["dist"].needs_pairs and METHODS["fitnets"].needs_features
    assert "e8c5bb331e78c9d79a8894ca233caae78531cf7f" in METHODS["dkd"].reference


def test_loss_args_are_part_of_the_run_key():
    base = validate(RunConfig(loss="dkd"))
    two = validate(RunConfig(loss="dkd", loss_args=(("beta", 2),)))
    assert base.run_key() != two.run_key()
    assert two.loss_args == (("beta", 2.0),)
    assert validate(RunConfig(loss="dkd", loss_args=[["beta", "2"]])).run_key() == two.run_key()
    assert validate(RunConfig()).run_key() == validate(RunConfig(loss_args=())).run_key()
    with pytest.raises(ConfigError, match="no hyperparameter"):
        validate(RunConfig(loss="kd", loss_args=(("beta", 2),)))
