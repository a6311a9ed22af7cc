"""kd-bench's report as a Markdown table, with the issue's targets next to the measured rates."""

from __future__ import annotations

from .timing import LABELS, PHASES

# The targets, on CIFAR-10: ratios to the seed, or images/s for the one-off logit pass.
TARGETS = {"teacher_epoch": 3.0, "student_epoch": 10.0, "test_eval": 5.0}
TARGET_LOGITS_IPS = 10_000
TARGET_CLASSROOM_S = 2.0


def format_table(report: dict) -> str:
    machine = report["machine"]
    cuda = "cuda" in machine
    lines = [
        f"kd-bench — {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']} "
        f"({machine['threads']} threads); fp32 matmul {report['matmul_gflops']:.0f} GFLOP/s"
        + (f"; CUDA: {machine['cuda']}" if cuda else ""),
        f"{report['settings']['batches']} timed batches per phase after {report['settings']['warmup']} warm-up, "
        f"median of {report['settings']['repeats']}; the seed first, as shipped (default allocator), "
        f"then the engine with tuning: {report['settings']['tuning']}",
        "",
        "| data | phase | seed img/s | engine img/s | engine ÷ seed | target | FLOP limit img/s | engine % of limit |"
        + (" engine on CUDA img/s | CUDA ÷ seed |" if cuda else ""),
        "|---|---|---:|---:|---:|---|---:|---:|" + ("---:|---:|" if cuda else ""),
    ]
    for name in ("cifar", "digits"):
        if name not in report:
            continue
        for phase in PHASES:
            row = report[name][phase]
            target = ""
            if name == "cifar":
                target = f"≥ {TARGETS[phase]:g}×" if phase in TARGETS else f"≥ {TARGET_LOGITS_IPS:,} img/s"
            seed_cell = f"{row['seed']:,.0f}" if "seed" in row else "—"
            ratio = f"{row['ratio']:.1f}×" if "ratio" in row else "—"
            line = (
                f"| {name} | {LABELS[phase]} | {seed_cell} | {row['engine']:,.0f} | {ratio} | {target} | "
                f"{row['flop_limit']:,.0f} | {100 * row['fraction_of_limit']:.0f}% |"
            )
            if cuda:
                cuda_ratio = f"{row['cuda_ratio']:.1f}×" if "cuda_ratio" in row else "—"
                line += f" {row['cuda']:,.0f} | {cuda_ratio} |"
            lines.append(line)
    if "classroom" in report:
        c = report["classroom"]
        s = c["seconds"]
        lines += [
            "",
            f"default classroom run (digits, kd-train defaults): teacher {s['teacher']:.2f} s + KD student "
            f"{s['student']:.2f} s + baseline {s['baseline']:.2f} s = {c['total']:.2f} s (target ≤ {c['target']:g} s)",
        ]
    for name in ("cifar", "digits"):
        if name in report:
            lines.append(f"{name}: {report[name]['data']}")
    return "\n".join(lines)
