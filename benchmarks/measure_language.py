"""Measure the language lesson and the sequence losses through the product and write their block in docs/language.md.

    python -m benchmarks.measure_language [--start-seeds 0,10,20] [--data-dir ../shared/data] [--jobs 2]
                                          [--json language.json] [--docs]

Everything runs as the page and ``kd-train --lesson language`` run it (kd_core/language/lesson.py's ``run_lesson``:
the lesson's settings and seeds, each seed's two students in a worker process on one thread, ``--jobs`` at a time),
in a teacher cache of its own that starts empty:

* the lesson from each start seed: teacher, KD student and scratch student in validation bits per character, KD −
  scratch with its 95 % interval and verdict, whether the lesson's claim holds, and the time of the whole lesson —
  cold (the first start seed: the teacher is trained) and cached (the others: the teacher is loaded);
* the losses over the first start seed's seeds, only the loss changed: forward KL (the lesson), reverse KL, JSD(β =
  0.5), forward KL with half the batches written by the student (on-policy 0.5), and sequence-level KD (λ = 0: the
  student learns the teacher's samples alone); with each student's samples judged (entropy, the teacher's bits,
  the share of grammatical sentences);
* Tiny Shakespeare, when ``--data-dir`` holds ``tinyshakespeare/input.txt``: the lesson's settings on it, as the page
  runs them there (start seed 0).

Bits per character are lower-is-better: "helps" means the whole interval of KD − scratch is below 0.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from kd_core.execution.executors import make_executor
from kd_core.language.corpus import SHAKESPEARE_FILE, load_corpus
from kd_core.language.lesson import LANGUAGE_LESSON, run_lesson
from kd_core.language.results import TRUTH_CHARS, truth_bits
from kd_core.language.seeds import LanguageSeeds
from kd_core.runs.cache import TeacherCache

from . import kernels
from .readme import add_argument, publish

NAME, SCRIPT = "language", "benchmarks/measure_language.py"
# The losses compared: a name for the table, and what changes from the lesson's settings (nothing else does).
LOSSES = {
    "forward KL (KD, the lesson)": {},
    "reverse KL (MiniLLM)": {"loss": "reverse-kl"},
    "JSD(β = 0.5) (GKD)": {"loss": "jsd", "loss_args": (("beta", 0.5),)},
    "forward KL, on-policy 0.5 (GKD)": {"on_policy": 0.5},
    "sequence-level, λ = 0 (Kim & Rush)": {"sequence_level": True, "lam": 0.0},
}


# ---------------------------------------------------------------- measuring


def summarised(summary: LanguageSeeds, seconds: float, start: int) -> dict:
    """One run of the lesson's seeds as numbers: bits, interval, verdict, samples judged, times."""
    d = summary.difference
    return {
        "start_seed": start,
        "seeds": [o.seed for o in summary.outcomes],
        "config": summary.config.to_dict(),
        "teacher_bits": summary.teacher.validation_bits,
        "teacher_cached": summary.teacher.cached,
        "teacher_seconds": summary.teacher.seconds,
        "kd_bits": [o.student.validation_bits for o in summary.outcomes],
        "scratch_bits": [o.baseline.validation_bits for o in summary.outcomes],
        "differences": [o.difference for o in summary.outcomes],
        "kd_minus_scratch": d.to_dict(),
        "verdict": summary.verdict,
        "holds": summary.verdict == LANGUAGE_LESSON.verdict,
        "kd_seconds": [o.student.seconds for o in summary.outcomes],
        "scratch_seconds": [o.baseline.seconds for o in summary.outcomes],
        "kd_samples": [vars(o.student_sample) for o in summary.outcomes],
        "scratch_samples": [vars(o.baseline_sample) for o in summary.outcomes],
        "seconds": seconds,
    }


def lesson_run(start: int, cache: TeacherCache, jobs: int, data_dir: str | None = None, **overrides) -> dict:
    """The lesson's seeds from ``start`` (``overrides`` on its settings), timed as a whole."""
    began = time.perf_counter()
    summary = run_lesson(
        start, executor=make_executor("local", jobs, threads=1), cache=cache, data_dir=data_dir, **overrides
    )
    return summarised(summary, time.perf_counter() - began, start)


def has_shakespeare(data_dir: str | None) -> bool:
    return data_dir is not None and (Path(data_dir).expanduser() / SHAKESPEARE_FILE).is_file()


def measure(start_seeds: list[int], jobs: int, data_dir: str | None, log=print) -> dict:
    torch.set_num_threads(1)
    measured: dict = {
        "machine": kernels.current(),
        "date": datetime.date.today().isoformat(),
        "jobs": jobs,
        "lesson": {"name": LANGUAGE_LESSON.name, "seeds": LANGUAGE_LESSON.seeds, "verdict": LANGUAGE_LESSON.verdict},
        "truth_bits": truth_bits(load_corpus("grammar")),
    }
    with tempfile.TemporaryDirectory(prefix="kd-measure-language-") as folder:
        cache = TeacherCache(Path(folder) / "teachers")  # empty: the first start seed trains the teacher
        measured["starts"] = []
        for start in start_seeds:
            measured["starts"].append(lesson_run(start, cache, jobs))
            log(f"lesson from start seed {start}: {measured['starts'][-1]['verdict']}")
        first = start_seeds[0]
        measured["losses"] = {}
        for name, overrides in LOSSES.items():
            run = measured["starts"][0] if not overrides else lesson_run(first, cache, jobs, **overrides)
            measured["losses"][name] = run
            log(f"{name}: {run['verdict']}")
        if has_shakespeare(data_dir):
            measured["shakespeare"] = lesson_run(0, cache, jobs, str(data_dir), corpus="tinyshakespeare")
            log(f"tinyshakespeare: {measured['shakespeare']['verdict']}")
    return measured


# ---------------------------------------------------------------- the block


def bits(value: float) -> str:
    return f"{value:.3f}"


def spread(values: list[float]) -> str:
    """``1.182–1.222`` (the lowest and highest over the seeds)."""
    return f"{min(values):.3f}–{max(values):.3f}"


def signed(value: float) -> str:
    """``+0.012`` or ``−0.051`` (a true minus sign, as the docs write it)."""
    return f"{value:+.3f}".replace("-", "−")


def interval(run: dict) -> str:
    d = run["kd_minus_scratch"]
    if d["low"] is None:
        return signed(d["mean"])
    return f"{signed(d['mean'])} [{signed(d['low'])}, {signed(d['high'])}]"


def seconds(values: list[float]) -> str:
    low, high = round(min(values)), round(max(values))
    return f"{low}–{high} s" if low != high else f"{low} s"


def seeds_text(run: dict) -> str:
    return f"{run['seeds'][0]}–{run['seeds'][-1]}"


def machine_text(measured: dict) -> str:
    return kernels.describe(measured["machine"])


def lesson_table(measured: dict) -> list[str]:
    rows = [
        "| start seed | teacher | KD student | scratch | KD − scratch, 95 % interval | verdict | lesson's time |",
        "|---:|---:|---:|---:|---|---|---:|",
    ]
    for run in measured["starts"]:
        time_text = f"{run['seconds']:.0f} s ({'teacher cached' if run['teacher_cached'] else 'teacher trained'})"
        rows.append(
            f"| {run['start_seed']} | {bits(run['teacher_bits'])} | {spread(run['kd_bits'])} | "
            f"{spread(run['scratch_bits'])} | {interval(run)} | {run['verdict']} | {time_text} |"
        )
    return rows


def losses_table(measured: dict) -> list[str]:
    rows = [
        "| student's loss | KD student | KD − scratch, 95 % interval | verdict | sample's entropy | teacher's bits "
        "on it | grammatical | a student's time |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for name, run in measured["losses"].items():
        samples = run["kd_samples"]
        grammatical = [s["grammatical"] for s in samples if s.get("grammatical") is not None]
        rows.append(
            f"| {name} | {spread(run['kd_bits'])} | {interval(run)} | {run['verdict']} | "
            f"{statistics.fmean(s['entropy_bits'] for s in samples):.2f} | "
            f"{statistics.fmean(s['judge_bits'] for s in samples):.2f} | "
            + (f"{100 * statistics.fmean(grammatical):.0f} %" if grammatical else "–")
            + f" | {seconds(run['kd_seconds'])} |"
        )
    scratch = next(iter(measured["losses"].values()))
    grammatical = [s["grammatical"] for s in scratch["scratch_samples"] if s.get("grammatical") is not None]
    rows.append(
        f"| (scratch student) | {spread(scratch['scratch_bits'])} | | | "
        f"{statistics.fmean(s['entropy_bits'] for s in scratch['scratch_samples']):.2f} | "
        f"{statistics.fmean(s['judge_bits'] for s in scratch['scratch_samples']):.2f} | "
        + (f"{100 * statistics.fmean(grammatical):.0f} %" if grammatical else "–")
        + f" | {seconds(scratch['scratch_seconds'])} |"
    )
    return rows


def markdown(measured: dict) -> str:
    starts = measured["starts"]
    cold = [run for run in starts if not run["teacher_cached"]]
    cached = [run for run in starts if run["teacher_cached"]]
    holds = all(run["holds"] for run in starts)
    first = starts[0]
    lines = [
        f"Measured by `{measured['command']}` on {machine_text(measured)}, "
        f"{measured['jobs']} seeds at a time (one thread each), {measured['date']}: the lesson "
        f"`{measured['lesson']['name']}` over its {measured['lesson']['seeds']} seeds from each start seed, "
        "validation bits per character (lower is better).",
        "",
        *lesson_table(measured),
        "",
        f"Its claim, **{measured['lesson']['verdict']}**, "
        + (
            "holds from every start seed measured."
            if holds
            else "does **not** hold from start seeds "
            + ", ".join(str(run["start_seed"]) for run in starts if not run["holds"])
            + "."
        )
        + f" The true distribution scores {measured['truth_bits']:.3f} bits per character on the validation text's "
        f"first {TRUTH_CHARS:,} characters: the floor no model can go below.",
        "",
        "Times: "
        + (f"the teacher {cold[0]['teacher_seconds']:.0f} s to train; " if cold else "")
        + f"a KD student {seconds([s for run in starts for s in run['kd_seconds']])}, a scratch student "
        f"{seconds([s for run in starts for s in run['scratch_seconds']])}; the whole lesson "
        + (f"{cold[0]['seconds']:.0f} s from an empty cache" if cold else "")
        + (", " if cold and cached else "")
        + (f"{seconds([run['seconds'] for run in cached])} with its teacher cached" if cached else "")
        + ".",
        "",
        f"The students' losses over seeds {seeds_text(first)}, each with only its loss changed from the lesson's "
        "(each student's sample: 300 characters at T = 1, its entropy and the teacher's bits per character on it, "
        "and the share of its whole sentences that are grammatical; means over the seeds):",
        "",
        *losses_table(measured),
    ]
    shakespeare = measured.get("shakespeare")
    if shakespeare is not None:
        lines += [
            "",
            f"On **Tiny Shakespeare**, with the lesson's settings (as the page runs it there), seeds "
            f"{seeds_text(shakespeare)}: teacher {bits(shakespeare['teacher_bits'])} bits per character "
            f"({shakespeare['teacher_seconds']:.0f} s to train), KD students {spread(shakespeare['kd_bits'])}, "
            f"scratch students {spread(shakespeare['scratch_bits'])}; KD − scratch {interval(shakespeare)}: "
            f"**{shakespeare['verdict']}**; the whole run {shakespeare['seconds']:.0f} s from an empty cache.",
        ]
    else:
        lines += ["", "Tiny Shakespeare was not measured: `--data-dir` does not hold `tinyshakespeare/input.txt`."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start-seeds", default="0,10,20", help="the lesson's start seeds, comma-separated")
    parser.add_argument("--data-dir", help="a folder holding tinyshakespeare/input.txt (left out without it)")
    parser.add_argument("--jobs", type=int, default=2, help="seeds trained at once (worker processes)")
    parser.add_argument("--json", help="also write the numbers here")
    add_argument(parser, NAME)
    args = parser.parse_args(argv)
    try:
        start_seeds = [int(word) for word in args.start_seeds.split(",")]
    except ValueError:
        parser.error(f"--start-seeds: whole numbers separated by commas, got {args.start_seeds!r}")
    if not 1 <= args.jobs <= 64:
        parser.error(f"--jobs must be from 1 to 64, got {args.jobs}")
    measured = measure(start_seeds, args.jobs, args.data_dir, log=lambda line: print(line, file=sys.stderr, flush=True))
    measured["command"] = (
        f"python -m benchmarks.measure_language --start-seeds {args.start_seeds} --jobs {args.jobs}"
        + (f" --data-dir {args.data_dir}" if args.data_dir else "")
    )
    publish(markdown(measured), measured, args.json, args.docs, NAME, SCRIPT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
