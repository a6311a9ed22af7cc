"""``kd-train``: train (or load) a teacher, distill a student, compare with a scratch baseline.

    kd-train --dataset digits --temperature 4 --lam 0.7 --epochs 20 --baseline --json result.json

Bad arguments exit 2 with one line; a diverged run exits 1; Ctrl-C exits 130.
"""
from __future__ import annotations

import sys

from tqdm import tqdm

from ..cache import TeacherCache
from ..pipeline import run
from ..records import ProgressEvent, RunResult
from .common import check_common, config_from_args, guarded, make_parser, text_table, write_json_atomic


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
            self.bar = tqdm(total=event.steps or event.epochs, desc=f"{event.phase:8s}", unit="step", file=sys.stderr, leave=True)
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
    rows = [("model", "params", "test acc", "agreement", "seconds")]
    for phase in ("teacher", "student", "baseline"):
        report = getattr(result, phase)
        if report is not None:
            agreement = "-" if report.agreement is None else f"{report.agreement:.1%}"
            rows.append((ROW_NAMES[phase], f"{report.params:,}", f"{report.accuracy:.2%}", agreement,
                         f"{result.seconds[phase]:.2f}"))
    lines = [text_table(rows, left_columns=1)]
    if result.kd_minus_baseline is not None:
        lines.append(f"KD − baseline: {100 * result.kd_minus_baseline:+.2f} points")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("kd-train", __doc__)
    args = parser.parse_args(argv)
    check_common(parser, args)
    bars = ProgressBars(enabled=not args.quiet)
    code, result = guarded(parser, lambda: run(config_from_args(args), on_event=bars, cache=TeacherCache(args.cache_dir)),
                           bars.close)
    if code:
        return code
    print(summary_table(result))
    if args.json:
        write_json_atomic(result.to_json(), args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
