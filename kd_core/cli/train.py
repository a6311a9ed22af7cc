"""``kd-train``: train (or load) a teacher, distill a student, compare with a scratch baseline.

    kd-train --dataset digits --temperature 4 --lam 0.7 --epochs 20 --baseline --json result.json
    kd-train --lesson little-data --seeds 5 --jobs 2     # a lesson, over five seeds, two at a time
    kd-train --ship out/ --json result.json             # the models as FP32 and int8 ONNX files, measured
    kd-train --lesson ship-it-digits                    # a ship lesson: its files measured, its claims checked
    kd-train --lesson capacity-gap                      # a finding after Hinton: its arms compared (cli/research.py)
    kd-train --dataset text:notes.txt                   # a language model distilled (cli/language.py)

With --seeds N > 1 the summary gives KD − baseline as a mean with its 95 % interval and a verdict.
Bad arguments exit 2 with one line; a diverged run exits 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import os
import sys

from tqdm import tqdm

from kd_core.cli import language, own, research
from kd_core.cli import ship as shipping
from kd_core.cli.common import (
    MAX_JOBS,
    check_common,
    config_fields,
    config_from_args,
    explicit_flags,
    flag_value,
    guarded,
    make_parser,
    parse_seeds,
    text_table,
)
from kd_core.deploy.lesson import check_ship_claim
from kd_core.deploy.ship import deployment_json
from kd_core.files import write_json_atomic
from kd_core.language.corpus import CORPORA, TEXT_PREFIX
from kd_core.language.lesson import LANGUAGE_LESSON
from kd_core.runs.cache import TeacherCache
from kd_core.runs.seeds import SeedsResult, run_seeds
from kd_core.studies.lessons import LESSONS
from kd_core.studies.research import FINDINGS
from kd_core.train.records import ProgressEvent, RunResult


class ProgressBars:
    """One tqdm bar per phase, on stderr, fed from the engine's event stream."""

    def __init__(self, enabled: bool = True):
        self.enabled, self.bar, self.phase = enabled, None, None

    def __call__(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        if event.phase != self.phase:
            self.close()
            self.phase = event.phase
            self.bar = tqdm(
                total=event.steps or event.epochs, desc=f"{event.phase:8s}", unit="step", file=sys.stderr, leave=True
            )
        if event.kind == "step":
            self.bar.update(event.step - self.bar.n)
            self.bar.set_postfix(epoch=f"{event.epoch}/{event.epochs}", loss=f"{event.loss:.4f}", refresh=False)
        elif event.replayed:  # a cached teacher: its epochs are replayed, not trained
            self.bar.set_description(f"{event.phase:8s} (cached)")
            self.bar.update(1)
        else:
            self.bar.set_postfix(epoch=f"{event.epoch}/{event.epochs}", test_acc=f"{event.test_accuracy:.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


ROW_NAMES = {"teacher": "teacher", "student": "KD student", "baseline": "scratch baseline"}


def summary_table(result: RunResult) -> str:
    rows = [("model", "params", "test acc", "agreement", "KL to teacher", "seconds")]
    for phase in ("teacher", "student", "baseline"):
        report = getattr(result, phase)
        if report is not None:
            agreement = "-" if report.agreement is None else f"{report.agreement:.1%}"
            kl = "-" if report.teacher_kl is None else f"{report.teacher_kl:.3f}"
            rows.append(
                (
                    ROW_NAMES[phase],
                    f"{report.params:,}",
                    f"{report.accuracy:.2%}",
                    agreement,
                    kl,
                    f"{result.seconds[phase]:.2f}",
                )
            )
    lines = [text_table(rows, left_columns=1)]
    if result.kd_minus_baseline is not None:
        lines.append(f"KD − baseline: {100 * result.kd_minus_baseline:+.2f} points")
    return "\n".join(lines + transfer_lines([result]))


def seeds_table(result: SeedsResult) -> str:
    """One line per seed, then KD − baseline with its interval and the verdict."""
    rows = [("seed", "teacher %", "KD student %", "baseline %", "KD − baseline")]
    for run in result.runs:
        if run.status == "completed":
            gain = "-" if run.kd_minus_baseline is None else f"{100 * run.kd_minus_baseline:+.2f}"
            baseline = "-" if run.baseline is None else f"{100 * run.baseline.accuracy:.2f}"
            rows.append(
                (
                    str(run.config.seed),
                    f"{100 * run.teacher.accuracy:.2f}",
                    f"{100 * run.student.accuracy:.2f}",
                    baseline,
                    gain,
                )
            )
    lines = [text_table(rows)]
    interval = result.interval
    if interval is not None and interval.low is not None:
        lines.append(
            f"KD − baseline over {interval.n} seeds: {100 * interval.mean:+.2f} points, 95 % interval "
            f"[{100 * interval.low:+.2f}, {100 * interval.high:+.2f}]: {interval.verdict}"
        )
    return "\n".join(lines + transfer_lines([run for run in result.runs if run.status == "completed"]))


def transfer_lines(runs: list[RunResult]) -> list[str]:
    """For students that never saw some classes: how they do on those, before and after the bias correction
    (means over the runs)."""
    over = "" if len(runs) == 1 else f" (means over {len(runs)} seeds)"
    omitted = [r.omitted_class for r in runs if r.omitted_class is not None]
    kept = [r.kept_classes for r in runs if r.kept_classes is not None]
    if omitted and len(omitted) == len(runs):
        return [
            _transfer_line(
                f"test {omitted[0].cls}s recognised{over}",
                [o.student_accuracy for o in omitted],
                [o.baseline_accuracy for o in omitted],
                [o.bias_corrected and o.bias_corrected["class_accuracy"] for o in omitted],
            )
        ]
    if kept and len(kept) == len(runs):
        seen = " and ".join(f"{c}s" for c in kept[0].classes)
        return [
            _transfer_line(
                f"students saw only the {seen}; test errors{over}",
                [1 - r.student.accuracy for r in runs],
                [r.baseline and 1 - r.baseline.accuracy for r in runs],
                [k.bias_corrected and 1 - k.bias_corrected["overall_accuracy"] for k in kept],
            )
        ]
    return []


def _transfer_line(head: str, kd: list[float], scratch: list[float | None], after_bias: list[float | None]) -> str:
    """``head: KD student x, scratch y; KD after the bias …: z`` (means); a part any run lacks is left out."""
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    line = f"{head}: KD student {mean(kd):.1%}"
    if None not in scratch:
        line += f", scratch {mean(scratch):.1%}"
    if None not in after_bias:
        line += f"; KD after the bias chosen on the validation split: {mean(after_bias):.1%}"
    return line


def list_lessons() -> str:
    """Every lesson kd-train runs, grouped: Hinton 2015 (and its methods), after Hinton, a language model."""
    line = lambda name, title, seeds: f"{name:16s} {title} ({seeds} seeds)"  # noqa: E731
    return "\n".join(
        ["Hinton 2015:"]
        + [line(lesson.name, lesson.title, lesson.seeds) for lesson in LESSONS.values()]
        + ["", "After Hinton:", research.list_findings()]
        + ["", "A language model:", line(LANGUAGE_LESSON.name, LANGUAGE_LESSON.title, LANGUAGE_LESSON.seeds)]
    )


def other_command(argv: list[str]):
    """The command that runs what ``argv`` asks for when it is not a classifier's run: a finding after Hinton
    (kd_core/cli/research.py) or a language model (kd_core/cli/language.py); None for kd-train's own."""
    lesson, dataset = flag_value(argv, "--lesson"), flag_value(argv, "--dataset")
    if lesson in FINDINGS:
        return research.main
    if lesson == LANGUAGE_LESSON.name or dataset in CORPORA or (dataset or "").startswith(TEXT_PREFIX):
        return language.main
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    other = other_command(argv)
    if other is not None:
        return other(argv)
    parser = make_parser("kd-train", __doc__)
    parser.add_argument(
        "--seeds", type=parse_seeds, help="how many seeds, from --seed on (default: 1, or the lesson's)"
    )
    parser.add_argument(
        "--lesson",
        choices=list(LESSONS),
        help="start from a lesson's settings; explicit flags override them (--list-lessons: the findings after "
        "Hinton and the language lesson too)",
    )
    parser.add_argument("--list-lessons", action="store_true", help="list the lessons and exit")
    shipping.add_flag(parser)
    args = parser.parse_args(argv)
    if args.list_lessons:
        print(list_lessons())
        return 0
    own_settings = own.apply(parser, args)  # before a lesson's settings, which must not replace one's own data
    overrides = (
        {} if args.lesson is None else {**LESSONS[args.lesson].settings, **explicit_flags(parser, argv), **own_settings}
    )
    args.dataset = overrides.get("dataset", args.dataset)  # a lesson's dataset sets the default --threads too
    seeds = args.seeds or (LESSONS[args.lesson].seeds if args.lesson else 1)
    if args.lesson and args.jobs is None:  # as the dashboard runs a lesson's seeds: one thread each, its numbers
        args.jobs = max(1, min(os.cpu_count() or 1, seeds, MAX_JOBS))
        if args.jobs > 1 and args.threads is None:
            args.threads = 1
    executor = check_common(parser, args)
    shipping.check(parser, args)
    config = config_from_args(args, **{k: v for k, v in overrides.items() if k in config_fields()})
    bars = ProgressBars(enabled=not args.quiet and seeds == 1)
    work = lambda: run_seeds(
        config,
        seeds,
        None if seeds > 1 else (lambda seed, event: bars(event)),  # noqa: E731
        cache=TeacherCache(args.cache_dir),
        executor=executor,
    )
    code, result = guarded(parser, work, bars.close)
    if code:
        return code
    claim = LESSONS[args.lesson].ship if args.lesson else None  # a ship lesson ships even without --ship
    deployments, checks = None, None
    with shipping.target(args.ship, claim is not None) as (folder, temporary):
        if folder is not None and result.status == "completed":  # files, then tables: a failure leaves neither
            code, deployments = guarded(parser, lambda: shipping.ship_runs(result.runs, folder, args.quiet), bars.close)
            if code:
                return code
            checks = None if claim is None else check_ship_claim(claim, deployments)
        print(summary_table(result.runs[0]) if seeds == 1 else seeds_table(result))
        if deployments is not None:
            print("\n" + shipping.table(deployments))
        if checks is not None:
            print("\n" + shipping.claims_text(args.lesson, checks, temporary))
    if args.json:
        data = result.runs[0].to_json() if seeds == 1 else result.to_json()
        if deployments is not None:
            data["deployment"] = deployment_json(deployments)
        if checks is not None:
            data["ship_claims"] = [check.to_json() for check in checks]
        write_json_atomic(data, args.json, indent=2)
        print(f"wrote {args.json}")
    return 0 if result.status == "completed" else 130


if __name__ == "__main__":
    sys.exit(main())
