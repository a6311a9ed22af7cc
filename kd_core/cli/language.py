"""kd-train for text: distil a character-level language model and measure it against a scratch student over seeds.

    kd-train --dataset grammar --seeds 3                       # the built-in corpus (its true distribution is known)
    kd-train --dataset text:notes.txt --loss reverse-kl        # a UTF-8 file of your own
    kd-train --dataset tinyshakespeare --data-dir /data --json out.json
    kd-train --lesson language                                 # the language lesson's settings and seeds
    kd-train --dataset grammar --seeds 2 --executor ray        # the seeds as Ray tasks (a local Ray without an address)

Prints each seed's teacher / KD student / scratch student validation bits per character (lower is better), KD −
scratch over the seeds with its 95 % interval and verdict, and a sample of each model's text.  With ``--lesson``
the lesson's settings are the defaults and explicit flags win, as for the classifiers' lessons.  ``--json PATH`` (or
``-`` for standard output) holds the same numbers and the samples.  The engine is kd_core/language (seeds.py:
``language_seeds``); a bad file (empty, not UTF-8, too short for one context, too many distinct characters) is one
line and exit 2, before any training.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Collection, Sequence

from kd_core.cli.common import (
    MAX_JOBS,
    OneLineParser,
    executor_arguments,
    explicit_flags,
    guarded,
    loss_argument,
    parse_seeds,
    text_table,
)
from kd_core.config import ConfigError
from kd_core.data.spec import DatasetUnavailable
from kd_core.execution.executors import Executor, make_executor
from kd_core.files import one_line, write_json_atomic
from kd_core.language.corpus import load_corpus
from kd_core.language.lesson import LANGUAGE_LESSON
from kd_core.language.samples import Sample, sample_text
from kd_core.language.seeds import SAMPLE_LENGTH, LanguageSeeds, language_seeds
from kd_core.language.train import LanguageConfig, logit_methods, train_teacher, validate
from kd_core.runs.cache import TeacherCache

PROG = "kd-train"
SHOWN_SAMPLE = 160  # characters of each sample printed (the JSON holds all SAMPLE_LENGTH)
# Flags that map one-to-one onto LanguageConfig fields (the flag's name with - for _).
SIZE_FLAGS = ("context", "teacher_layers", "teacher_width", "student_layers", "student_width", "teacher_steps", "steps")
# Flags whose LanguageConfig field has another name (every other setting's flag is its field's name).
FIELD_OF_FLAG = {"dataset": "corpus", "loss_arg": "loss_args"}


def make_parser() -> OneLineParser:
    d = LanguageConfig()
    parser = OneLineParser(
        prog=PROG, description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--dataset", default=d.corpus, help="grammar (built in), tinyshakespeare (from --data-dir), or text:PATH"
    )
    parser.add_argument("--data-dir", help="where tinyshakespeare/input.txt is (default: $KD_DATA_DIR)")
    parser.add_argument("--lesson", choices=[LANGUAGE_LESSON.name], help="the language lesson's settings and seeds")
    parser.add_argument("--loss", default=d.loss, help=f"the students' loss: {', '.join(logit_methods())}")
    parser.add_argument(
        "--loss-arg", action="append", default=[], type=loss_argument, help="a loss parameter, as KEY=VALUE (beta=0.5)"
    )
    parser.add_argument("--temperature", type=float, default=d.temperature, help="T of the teacher's distribution")
    parser.add_argument("--lam", type=float, default=d.lam, help="λ, the soft part's weight")
    parser.add_argument("--on-policy", type=float, default=d.on_policy, help="share of batches the student writes")
    parser.add_argument("--sequence-level", action="store_true", help="train on the teacher's text (Kim & Rush)")
    parser.add_argument("--lr", type=float, default=d.lr, help="the students' peak learning rate")
    for name in SIZE_FLAGS:
        flag, words = f"--{name.replace('_', '-')}", name.replace("_", " ")
        parser.add_argument(flag, type=int, default=getattr(d, name), help=words)
    parser.add_argument("--seeds", type=parse_seeds, help="seeds, from --seed on (default: 1, or the lesson's)")
    parser.add_argument("--seed", type=int, default=d.seed, help="the first seed of the students")
    parser.add_argument(
        "--jobs", type=int, help="seeds trained at once, in worker processes or Ray tasks (default: cores, seeds)"
    )
    executor_arguments(parser)
    parser.add_argument("--cache-dir", help="teacher cache folder (default: $KD_CACHE_DIR or a per-user cache)")
    parser.add_argument("--json", help="write the results as JSON to this file (- for standard output)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def config_of(args: argparse.Namespace, explicit: Collection[str] = ()) -> LanguageConfig:
    """The LanguageConfig the flags ask for (ConfigError for a bad one): with ``--lesson``, the lesson's settings
    replace the flags' defaults but not the flags given on the command line (``explicit``: their dests)."""
    values = {
        "corpus": args.dataset,
        "loss": args.loss,
        "loss_args": tuple(tuple(pair) for pair in args.loss_arg),
        "temperature": args.temperature,
        "lam": args.lam,
        "on_policy": args.on_policy,
        "sequence_level": args.sequence_level,
        "lr": args.lr,
        "seed": args.seed,
        **{name: getattr(args, name) for name in SIZE_FLAGS},
    }
    if args.lesson:
        given = {FIELD_OF_FLAG.get(dest, dest) for dest in explicit}
        values = {**values, **{name: v for name, v in LANGUAGE_LESSON.settings.items() if name not in given}}
    try:
        return validate(LanguageConfig(**values))
    except (TypeError, ValueError) as error:  # a loss argument whose value is not a number
        raise ConfigError(str(error)) from None


def checked_corpus(config: LanguageConfig, data_dir: str | None) -> None:
    """Load the corpus and check it holds one context, before anything trains (CorpusError: one line)."""
    load_corpus(config.corpus, data_dir).check_context(config.context)


def bits(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def interval_words(summary: LanguageSeeds) -> str:
    d, n = summary.difference, len(summary.outcomes)
    if d.low is None:
        return f"KD − scratch: {d.mean:+.3f} bits/char over 1 seed (no interval: use --seeds 2 or more)"
    verdict = {
        "helps": "distillation helps (the whole interval is below 0: fewer bits per character)",
        "hurts": "distillation hurts (the whole interval is above 0: more bits per character)",
    }.get(summary.verdict, "no clear difference (the interval includes 0)")
    interval = f"95 % interval [{d.low:+.3f}, {d.high:+.3f}]"
    return f"KD − scratch: {d.mean:+.3f} bits/char, {interval} over {n} seeds: {verdict}"


def sample_line(name: str, sample: Sample) -> str:
    text = sample.text[:SHOWN_SAMPLE].replace("\n", "⏎")
    judged = [f"entropy {sample.entropy_bits:.2f} bits/char"]
    if sample.judge_bits is not None:
        judged.append(f"teacher's bits {sample.judge_bits:.2f}")
    if sample.grammatical is not None:
        judged.append(f"grammatical {100 * sample.grammatical:.0f} %")
    return f"{name} ({', '.join(judged)}):\n  {text}"


def report(summary: LanguageSeeds, teacher_sample: Sample) -> str:
    rows = [["seed", "teacher", "KD student", "scratch", "KD − scratch"]]
    for o in summary.outcomes:
        rows.append(
            [
                str(o.seed),
                bits(summary.teacher.validation_bits),
                bits(o.student.validation_bits),
                bits(o.baseline.validation_bits),
                f"{o.difference:+.3f}",
            ]
        )
    first = summary.outcomes[0]
    lines = [
        f"Validation bits per character on {summary.config.corpus} (lower is better), loss {summary.config.loss}:",
        text_table(rows),
        interval_words(summary),
        "",
        f"Samples at T = 1 (seed {first.seed}):",
        sample_line("teacher", teacher_sample),
        sample_line("KD student", first.student_sample),
        sample_line("scratch student", first.baseline_sample),
    ]
    return "\n".join(lines)


def loss_sweep(
    config: LanguageConfig,
    losses: Sequence[str],
    seeds: int,
    executor=None,
    cache: TeacherCache | None = None,
    data_dir: str | None = None,
    on_event=None,
) -> list[LanguageSeeds]:
    """``kd-sweep --param loss`` on text: each loss over the same seeds and teacher (trained once, then cached), with
    only the loss changed (a loss's own parameters at their defaults).  ConfigError for a loss a language student
    cannot use, before anything trains."""
    configs = [validate(dataclasses.replace(config, loss=loss, loss_args=())) for loss in losses]
    return [language_seeds(c, seeds, executor, cache, on_event, None, data_dir) for c in configs]


def loss_table(found: Sequence[LanguageSeeds]) -> str:
    """One row per loss: KD and scratch bits per character (mean over seeds), KD − scratch with its interval."""
    rows = [["loss", "KD student", "scratch", "KD − scratch", "95 % interval", "verdict"]]
    for summary in found:
        d = summary.difference
        n = len(summary.outcomes)
        rows.append(
            [
                summary.config.loss,
                bits(sum(o.student.validation_bits for o in summary.outcomes) / n),
                bits(sum(o.baseline.validation_bits for o in summary.outcomes) / n),
                f"{d.mean:+.3f}",
                "–" if d.low is None else f"[{d.low:+.3f}, {d.high:+.3f}]",
                summary.verdict,
            ]
        )
    return "Validation bits per character (lower is better), mean over seeds:\n" + text_table(rows, left_columns=1)


def progress_printer(quiet: bool):
    """Prints the end of each model's training to standard error (the teacher: index −1)."""
    if quiet:
        return None
    names = {"teacher": "teacher", "student": "KD student", "baseline": "scratch student"}

    def on_event(index: int, event) -> None:
        if event.kind == "epoch" and event.step == event.steps:
            seed = "" if index < 0 else f" (seed index {index})"
            print(f"{PROG}: {names.get(event.phase, event.phase)}{seed} trained", file=sys.stderr)

    return on_event


def executor_of(parser: argparse.ArgumentParser, args: argparse.Namespace, jobs: int) -> Executor:
    """The executor the flags ask for, each seed's task on one torch thread (the same bits whichever runs it):
    ``local`` with one job is this process; a Ray that cannot start is one line and exit 2."""
    try:
        return make_executor(args.executor, jobs, args.ray_address, threads=1)
    except Exception as error:  # noqa: BLE001 — Ray missing, or its cluster unreachable
        parser.error(f"--executor {args.executor}: {one_line(error)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    seeds = args.seeds or (LANGUAGE_LESSON.seeds if args.lesson else 1)
    jobs = args.jobs if args.jobs is not None else max(1, min(os.cpu_count() or 1, seeds))
    if not 1 <= jobs <= MAX_JOBS:
        parser.error(f"--jobs must be between 1 and {MAX_JOBS}, got {jobs}")
    if args.json and args.json != "-" and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        parser.error(f"--json: folder {os.path.dirname(args.json) or '.'} does not exist")
    try:
        config = config_of(args, explicit_flags(parser, argv))
        checked_corpus(config, args.data_dir)
    except (ConfigError, DatasetUnavailable) as error:
        parser.error(str(error))
    cache = TeacherCache(args.cache_dir) if args.cache_dir else TeacherCache()
    executor = executor_of(parser, args, jobs)

    def work():
        summary = language_seeds(config, seeds, executor, cache, progress_printer(args.quiet), None, args.data_dir)
        teacher = train_teacher(config, cache, None, None, args.data_dir)  # from the cache, where it was just put
        corpus = load_corpus(config.corpus, args.data_dir)
        return summary, sample_text(teacher.model, corpus, SAMPLE_LENGTH, 1.0, config.seed, judge=teacher.model)

    code, found = guarded(parser, work, lambda: None)
    if code:
        return code
    summary, teacher_sample = found
    data = {**summary.to_dict(), "teacher_sample": vars(teacher_sample)}
    if args.json == "-":
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        print(report(summary, teacher_sample))
        if args.json:
            write_json_atomic(data, args.json, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
