"""Mode-covering against mode-seeking, in one picture the page can draw at once: a one-Gaussian student fitted to a
two-mode teacher by forward KL, reverse KL and generalised JSD(β).

    picture = fit_modes(betas=(0.1, 0.5, 0.9))
    picture.grid, picture.teacher                      # x and the teacher's density on it
    picture.fits["forward-kl"].mean, .sd, .density     # the student each divergence chooses

The teacher is a mixture of two Gaussians on a grid (a categorical distribution over the grid's points, so every
divergence is the very sum the language losses compute over characters); the student is one Gaussian, which cannot
fit both modes.  Forward KL(teacher ‖ student), Hinton's KD, punishes the student wherever the teacher has mass and
it has none: the best one Gaussian covers both modes, wide, centred between them (on a fine grid it matches the
mixture's mean and variance).  Reverse KL(student ‖ teacher), MiniLLM's, punishes mass where the teacher has
none: the student sits on one mode, narrow.  JSD(β) (GKD, TRL's convention: β the teacher's weight in the mixture,
β = 0 forward KL, β = 1 reverse KL) moves between the two.  Each fit is a few dozen L-BFGS steps in float64 from
several starts (the best kept): milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from kd_core.methods.jsd import generalized_jsd_rows

STARTS = ((0.0, 3.0), (-2.5, 0.7), (2.5, 0.7))  # (mean, sd) the fits start from; the best is kept


@dataclass(frozen=True)
class GaussianFit:
    """The student one divergence chose: its mean, its sd, its density on the grid and the divergence reached."""

    divergence: str  # "forward-kl", "reverse-kl" or "jsd(β)"
    beta: float | None
    mean: float
    sd: float
    density: list[float] = field(repr=False)  # probability per grid point, summing to 1
    value: float  # the divergence at the fit, in nats


@dataclass(frozen=True)
class ModePicture:
    """The grid, the teacher's two-mode density on it, and one fit per divergence."""

    grid: list[float] = field(repr=False)
    teacher: list[float] = field(repr=False)
    modes: tuple[float, float]
    fits: dict[str, GaussianFit]


def _gaussian_log_probs(grid: torch.Tensor, mean: torch.Tensor, log_sd: torch.Tensor) -> torch.Tensor:
    return F.log_softmax(-0.5 * ((grid - mean) / log_sd.exp()) ** 2, dim=-1)


def divergence(name: str, student_log_probs: torch.Tensor, teacher_log_probs: torch.Tensor, beta: float | None):
    """forward KL(p ‖ q), reverse KL(q ‖ p) or JSD(β), p the teacher's and q the student's categorical."""
    if name == "forward-kl":
        return generalized_jsd_rows(student_log_probs, teacher_log_probs, 0.0)
    if name == "reverse-kl":
        return generalized_jsd_rows(student_log_probs, teacher_log_probs, 1.0)
    return generalized_jsd_rows(student_log_probs, teacher_log_probs, float(beta))


def _fit_from(name: str, beta: float | None, grid, teacher_log_probs, mean0: float, sd0: float):
    """(divergence, mean, sd, density) after L-BFGS from one start."""
    mean = torch.tensor(mean0, dtype=torch.float64, requires_grad=True)
    log_sd = torch.tensor(math.log(sd0), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([mean, log_sd], max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = divergence(name, _gaussian_log_probs(grid, mean, log_sd), teacher_log_probs, beta)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        log_q = _gaussian_log_probs(grid, mean, log_sd)
        value = float(divergence(name, log_q, teacher_log_probs, beta))
        return value, float(mean), float(log_sd.exp()), log_q.exp().tolist()


def _fit(name: str, beta: float | None, grid: torch.Tensor, teacher_log_probs: torch.Tensor) -> GaussianFit:
    best = None
    for mean0, sd0 in STARTS:
        found = _fit_from(name, beta, grid, teacher_log_probs, mean0, sd0)
        if best is None or found[0] < best[0] - 1e-12:
            best = found
    value, mean, sd, density = best
    label = name if beta is None else f"jsd({beta:g})"
    return GaussianFit(label, beta, mean, sd, density, value)


def fit_modes(
    betas: tuple[float, ...] = (0.1, 0.5, 0.9),
    separation: float = 4.0,
    mode_sd: float = 0.6,
    left_weight: float = 0.6,
    points: int = 401,
    span: float = 8.0,
) -> ModePicture:
    """Fit one Gaussian to 'left_weight · N(−separation/2, mode_sd²) + (1 − left_weight) · N(+separation/2,
    mode_sd²)' on ``points`` grid points over [−span, span], by forward KL, reverse KL and JSD(β) for each β."""
    if not (0 < left_weight < 1 and separation >= 0 and mode_sd > 0 and points >= 3 and span > 0):
        raise ValueError("fit_modes needs 0 < left_weight < 1, separation ≥ 0, mode_sd > 0, points ≥ 3, span > 0")
    if any(not 0 <= beta <= 1 for beta in betas):
        raise ValueError(f"every β must be between 0 and 1, got {betas}")
    grid = torch.linspace(-span, span, points, dtype=torch.float64)
    modes = (-separation / 2, separation / 2)
    components = torch.stack(
        [math.log(w) - 0.5 * ((grid - m) / mode_sd) ** 2 for w, m in zip((left_weight, 1 - left_weight), modes)]
    )
    teacher_log_probs = F.log_softmax(torch.logsumexp(components, dim=0), dim=-1)
    fits = {name: _fit(name, None, grid, teacher_log_probs) for name in ("forward-kl", "reverse-kl")}
    for beta in betas:
        fit = _fit("jsd", beta, grid, teacher_log_probs)
        fits[fit.divergence] = fit
    return ModePicture(grid.tolist(), teacher_log_probs.exp().tolist(), modes, fits)
