"""The sequence-distillation losses (kd_core/methods/reverse_kl.py, jsd.py) against independent float64 formulas,
their gradients (gradcheck), their limits, token-level KD as the image KD itself, and both losses registered so
they also train the digit classifiers (``kd-train --loss reverse-kl``) without joining the Methods tab's list."""

from __future__ import annotations

import json
import math

import pytest
import torch

from kd_core.cli.train import main as train_main
from kd_core.methods.jsd import generalized_jsd_rows, jsd_parts
from kd_core.methods.losses import hinton_kd
from kd_core.methods.registry import COMPARED, KD_VARIANTS, METHODS, MethodError, make_loss, normalize_args
from kd_core.methods.reverse_kl import reverse_kl_parts, reverse_kl_rows

QUICK = ["--teacher-epochs", "3", "--epochs", "2", "--quiet"]


def softmax64(row: list[float], temperature: float) -> list[float]:
    """softmax(row / T) in plain Python float64, by its definition."""
    top = max(row)
    e = [math.exp((z - top) / temperature) for z in row]
    return [v / sum(e) for v in e]


def kl64(p: list[float], q: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)


def jsd64(p_teacher: list[float], q_student: list[float], beta: float) -> float:
    """GKD eq. 1 with TRL's special cases: β·KL(P‖M) + (1−β)·KL(Q‖M), M = βP + (1−β)Q; β=0 KL(P‖Q), β=1 KL(Q‖P)."""
    if beta == 0:
        return kl64(p_teacher, q_student)
    if beta == 1:
        return kl64(q_student, p_teacher)
    m = [beta * a + (1 - beta) * b for a, b in zip(p_teacher, q_student)]
    return beta * kl64(p_teacher, m) + (1 - beta) * kl64(q_student, m)


def cross_entropy64(row: list[float], label: int) -> float:
    return -math.log(softmax64(row, 1.0)[label])


def logits(seed: int, rows: int = 6, classes: int = 7, scale: float = 3.0):
    generator = torch.Generator().manual_seed(seed)
    s = torch.randn(rows, classes, generator=generator, dtype=torch.float64) * scale
    t = torch.randn(rows, classes, generator=generator, dtype=torch.float64) * scale
    y = torch.randint(0, classes, (rows,), generator=generator)
    return s, t, y


def reference(divergence, s, t, y, temperature: float, lam: float) -> dict[str, float]:
    """λ·T²·mean divergence + (1−λ)·mean CE, every number from Python floats."""
    soft = sum(
        divergence(softmax64(tr.tolist(), temperature), softmax64(sr.tolist(), temperature)) for sr, tr in zip(s, t)
    ) / len(s)
    soft *= temperature**2
    hard = sum(cross_entropy64(sr.tolist(), int(label)) for sr, label in zip(s, y)) / len(s)
    return {"total": lam * soft + (1 - lam) * hard, "soft": soft, "hard": hard}


@pytest.mark.parametrize("temperature,lam", [(1.0, 1.0), (2.0, 0.7), (4.0, 0.3)])
def test_reverse_kl_matches_an_independent_float64_formula(temperature, lam):
    for seed in range(3):
        s, t, y = logits(seed)
        got = reverse_kl_parts(s, t, y, temperature, lam, epoch=1)
        want = reference(lambda p, q: kl64(q, p), s, t, y, temperature, lam)
        for name in ("total", "soft", "hard"):
            assert float(got[name]) == pytest.approx(want[name], abs=1e-6, rel=1e-6), name


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("temperature,lam", [(1.0, 1.0), (2.0, 0.7)])
def test_jsd_matches_an_independent_float64_formula(beta, temperature, lam):
    for seed in range(3):
        s, t, y = logits(seed)
        got = jsd_parts(s, t, y, temperature, lam, epoch=1, beta=beta)
        want = reference(lambda p, q: jsd64(p, q, beta), s, t, y, temperature, lam)
        for name in ("total", "soft", "hard"):
            assert float(got[name]) == pytest.approx(want[name], abs=1e-6, rel=1e-6), (name, beta)


def test_the_losses_agree_in_float32_on_sequence_shaped_logits():
    """A language batch's (batch · positions) rows, in the float32 the models train in, against float64."""
    generator = torch.Generator().manual_seed(5)
    s = torch.randn(4, 12, 27, generator=generator) * 2
    t = torch.randn(4, 12, 27, generator=generator) * 2
    rows_s, rows_t = s.reshape(-1, 27), t.reshape(-1, 27)
    for beta in (0.0, 0.5, 1.0):
        low = generalized_jsd_rows(rows_s, rows_t, beta, 2.0)
        high = generalized_jsd_rows(rows_s.double(), rows_t.double(), beta, 2.0)
        assert torch.allclose(low.double(), high, atol=1e-6)
    low = reverse_kl_rows(rows_s, rows_t, 1.0)
    assert torch.allclose(low.double(), reverse_kl_rows(rows_s.double(), rows_t.double(), 1.0), atol=1e-6)


def test_gradients_pass_gradcheck():
    s, t, y = logits(7, rows=3, classes=5, scale=1.5)
    s.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: reverse_kl_parts(a, t, y, 2.0, 0.7, epoch=1)["total"], (s,))
    for beta in (0.0, 0.3, 1.0):
        assert torch.autograd.gradcheck(lambda a, b=beta: jsd_parts(a, t, y, 2.0, 0.7, epoch=1, beta=b)["total"], (s,))


def test_jsd_at_zero_and_one_is_forward_and_reverse_kl_and_tends_to_them():
    """TRL's convention: β is the teacher's weight in the mixture, so β = 0 is the forward KL(teacher ‖ student),
    Hinton's, and β = 1 the reverse KL(student ‖ teacher), MiniLLM's.  Inside (0, 1) the divergence tends to 0 at
    both ends; divided by the weight of the term that survives it tends to those two KLs."""
    s, t, _ = logits(11, scale=1.0)
    forward = generalized_jsd_rows(s, t, 0.0)
    reverse = generalized_jsd_rows(s, t, 1.0)
    assert torch.allclose(forward, reverse_kl_rows(t, s, 1.0), atol=1e-12)  # KL(P‖Q) is the reverse KL turned round
    assert torch.allclose(reverse, reverse_kl_rows(s, t, 1.0), atol=1e-12)
    assert not torch.allclose(forward, reverse, atol=1e-3)
    # the gap shrinks in proportion to β (or 1 − β): the next term is β · χ²/2, the χ² divergence of the two
    for step, tolerance in ((1e-4, 1e-3), (1e-6, 1e-5)):
        assert torch.allclose(generalized_jsd_rows(s, t, step) / step, forward, rtol=tolerance, atol=0)
        assert torch.allclose(generalized_jsd_rows(s, t, 1 - step) / step, reverse, rtol=tolerance, atol=0)


def test_token_level_kd_is_the_image_kd_on_flattened_positions():
    """A language batch's positions as rows: the `kd` method's loss is Hinton's own; jsd at β = 0 has its soft part."""
    generator = torch.Generator().manual_seed(3)
    s = torch.randn(2, 10, 27, generator=generator)
    t = torch.randn(2, 10, 27, generator=generator)
    y = torch.randint(0, 27, (2, 10), generator=generator)
    rows_s, rows_t, labels = s.reshape(-1, 27), t.reshape(-1, 27), y.reshape(-1)
    token = make_loss("kd")(rows_s, rows_t, labels, 2.0, 0.7)
    image = hinton_kd(rows_s, rows_t, labels, 2.0, 0.7)
    assert all(torch.equal(token[name], image[name]) for name in ("total", "soft", "hard"))
    gkd = make_loss("jsd", normalize_args("jsd", {"beta": 0}))(rows_s, rows_t, labels, 2.0, 0.7)
    assert torch.allclose(gkd["soft"], image["soft"], atol=1e-6) and torch.allclose(gkd["total"], image["total"])


def test_the_losses_are_registered_but_not_compared_and_not_teaching_toggles():
    assert {"reverse-kl", "jsd"} <= set(METHODS)
    assert "reverse-kl" not in COMPARED and "jsd" not in COMPARED
    assert "reverse-kl" not in KD_VARIANTS and "jsd" not in KD_VARIANTS
    assert METHODS["jsd"].params["beta"].default == 0.5  # TRL's GKDConfig default
    assert "a9fa292c2d1df64c6f0189ebe32d37b46ce64438" in METHODS["jsd"].reference
    assert "7b14befcfabd699129d5223500c47742f31b4d88" in METHODS["reverse-kl"].reference
    with pytest.raises(MethodError, match="between 0 and 1"):
        normalize_args("jsd", {"beta": 1.5})


@pytest.mark.parametrize("name,args", [("reverse-kl", []), ("jsd", ["--loss-arg", "beta=0.3"])])
def test_kd_train_distils_the_digits_with_each_loss(name, args, tmp_path):
    out = tmp_path / "run.json"
    assert train_main([*QUICK, "--loss", name, *args, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["config"]["loss"] == name
    student = [row for row in data["history"] if row["phase"] == "student"]
    assert math.isfinite(student[-1]["soft_loss"]) and math.isfinite(student[-1]["hard_loss"])
    assert data["student"]["accuracy"] > 0.5  # it learned the digits
