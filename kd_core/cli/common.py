"""What every kd_core command shares: the run flags, one-line errors, exit codes, atomic JSON and text tables.

Exit codes: 0 done, 1 the training diverged, 2 a bad argument (one line on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import torch
from tqdm import tqdm

from kd_core.cli import own
from kd_core.config import (
    DEVICES,
    OPTIMIZERS,
    SCHEDULES,
    TRANSFERS,
    ConfigError,
    RunConfig,
    parent_config,
    student_as_teacher,
)
from kd_core.data.datasets import DATASETS
from kd_core.data.spec import DatasetUnavailable
from kd_core.execution.executors import EXECUTORS, Executor, make_executor
from kd_core.files import one_line
from kd_core.methods.registry import METHODS, MethodError, parse_loss_arg
from kd_core.models.architectures import ARCHITECTURES
from kd_core.runs.seeds import MAX_SEEDS
from kd_core.train.loop import Diverged

EXIT_DIVERGED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
MAX_JOBS = 256
T = TypeVar("T")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and still exit code 2)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def make_parser(prog: str, doc: str) -> OneLineParser:
    """A parser with every run flag, ``--baseline``, ``--json`` and ``--quiet``; warnings print as one line."""
    parser = OneLineParser(
        prog=prog, description=doc.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    d = RunConfig()
    parser.add_argument(
        "--dataset",
        default=d.dataset,
        type=own.dataset_argument,
        help=f"{', '.join(DATASETS)} (digits is built in), or data of your own: folder:PATH (an image "
        "folder, one subfolder per class) or csv:PATH (numeric features and a label column)",
    )
    parser.add_argument(
        "--data-dir", help="where torchvision datasets live (default: $KD_DATA_DIR, else a per-user cache folder)"
    )
    parser.add_argument("--teacher", choices=list(ARCHITECTURES), help="teacher architecture (default: the dataset's)")
    parser.add_argument("--student", choices=list(ARCHITECTURES), help="student architecture (default: the dataset's)")
    own.add_flags(parser)
    parser.add_argument(
        "--student-width",
        type=int,
        help="the student's hidden units (MLP) or channels (CNN) (default: the architecture's)",
    )
    parser.add_argument("--teacher-epochs", type=int, help="default: the dataset's (digits: 30)")
    parser.add_argument("--epochs", type=int, help="student epochs (default: the dataset's; digits: 20)")
    parser.add_argument("--temperature", "-T", type=float, default=d.temperature, help="softmax temperature T")
    parser.add_argument("--lam", type=float, default=d.lam, help="λ, weight of the soft loss in [0, 1]")
    parser.add_argument("--lr", type=float, help="learning rate (default: the dataset's; digits: 0.01)")
    parser.add_argument("--batch-size", type=int, help="default: the dataset's (digits: 64)")
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default=d.optimizer)
    parser.add_argument(
        "--schedule",
        choices=list(SCHEDULES),
        default=d.schedule,
        help="the learning rate over each phase: constant, cosine (annealed to 0), or onecycle (warm-up, "
        "then annealed) (default: the dataset's; digits: constant, MNIST: cosine)",
    )
    parser.add_argument("--teacher-optimizer", choices=list(OPTIMIZERS), help="the teacher's (default: --optimizer)")
    parser.add_argument("--teacher-lr", type=float, help="the teacher's learning rate (default: --lr)")
    parser.add_argument("--teacher-batch-size", type=int, help="the teacher's batch size (default: --batch-size)")
    parser.add_argument(
        "--teacher-jitter",
        type=int,
        default=d.teacher_jitter,
        help="shift each teacher training image by up to ± this many pixels, anew every step",
    )
    parser.add_argument(
        "--loss",
        choices=list(METHODS),
        default=d.loss,
        help="the distillation method (kd-no-t2 and seed-script are teaching toggles of kd)",
    )
    parser.add_argument(
        "--loss-arg",
        dest="loss_args",
        action="append",
        type=loss_argument,
        default=[],
        metavar="KEY=VALUE",
        help="a hyperparameter of the --loss method, e.g. beta=2 (repeatable; "
        + "; ".join(f"{m.name}: {', '.join(m.params)}" for m in METHODS.values() if m.params)
        + ")",
    )
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--student-fraction",
        type=float,
        default=d.student_fraction,
        help="share of the training set the student sees, in (0, 1]",
    )
    parser.add_argument(
        "--equal-steps",
        action=argparse.BooleanOptionalAction,
        default=d.equal_steps,
        help="with --student-fraction < 1, scale the students' epochs so they take as many gradient steps "
        "as --epochs on the full training set (the JSON says the epochs used)",
    )
    parser.add_argument("--omit-class", type=int, help="a class left out of the student's training set")
    parser.add_argument(
        "--keep-classes", metavar="C,C", help="the only classes in the students' training set, e.g. 7,8"
    )
    parser.add_argument(
        "--holdout",
        type=float,
        default=d.holdout,
        help="share of the training set kept from the students as a validation split; with --omit-class "
        "or --keep-classes the bias correction is chosen on it",
    )
    research_flags(parser, d)
    parser.add_argument("--device", default=d.device, choices=list(DEVICES))
    parser.add_argument("--cache-dir", help="teacher cache (default: $KD_CACHE_DIR, else a per-user cache folder)")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: the dataset's; 1 for digits). Results depend on the thread count, "
        "so 1 gives the same numbers here, in the dashboard and on any machine; it is also the fastest for the "
        "small digits models. Raise it for CNNs on an idle machine.",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        help="trainings at once: worker processes here (one per core is the most that helps), or Ray tasks "
        "(default: 1; kd-train --lesson: one per core, at most one per seed, each on one thread — as "
        "the dashboard runs a lesson, with its numbers)",
    )
    executor_arguments(parser)
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train the scratch student from the same initial weights",
    )
    parser.add_argument("--json", help="write the result here as JSON (atomically)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    warnings.showwarning = lambda message, *_: print(f"{prog}: warning: {message}", file=sys.stderr)
    tqdm.monitor_interval = 0  # no monitor thread: a process without threads can fork its workers (local_processes)
    return parser


def research_flags(parser: argparse.ArgumentParser, d: RunConfig) -> None:
    """The settings the findings after Hinton need (kd_core/studies/research.py): each changes no cache key unset."""
    parser.add_argument("--teacher-width", type=int, help="the teacher's hidden units or channels (default: its own)")
    parser.add_argument(
        "--teacher-label-smoothing",
        type=float,
        default=d.teacher_label_smoothing,
        help="ε of label smoothing in the teacher's own training, in [0, 1) (Müller, Kornblith & Hinton 2019)",
    )
    parser.add_argument(
        "--teacher-from",
        metavar="RUN.json",
        type=run_settings,
        help="the teacher is the KD student of the run a kd-train --json file describes (born-again generations, "
        "teacher → assistant → student); trained first if the cache does not hold it",
    )
    parser.add_argument(
        "--transfer",
        choices=list(TRANSFERS),
        help="what the KD student learns from instead of its training images: noise (random images of the same "
        "shape and range, the teacher's soft targets alone: λ = 1)",
    )
    parser.add_argument(
        "--track-fidelity",
        action="store_true",
        help="after every epoch, the students' agreement with the teacher and KL to it on the test set",
    )


def run_settings(path: str) -> str:
    """``--teacher-from``: the settings of the run a ``kd-train --json`` file holds, as RunConfig.teacher_from."""
    try:
        data = json.loads(Path(path).expanduser().read_text())
        settings = data.get("config") if isinstance(data, dict) else None
        if not isinstance(settings, dict):
            raise ValueError('it holds no run\'s settings ("config")')
        parent = parent_config(RunConfig(teacher_from=json.dumps(settings)))
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError) as error:  # ConfigError is a ValueError
        raise argparse.ArgumentTypeError(f"{path} is not a kd-train --json file: {one_line(error)}") from None
    return student_as_teacher(parent)


def loss_argument(text: str) -> tuple[str, str]:
    """``--loss-arg KEY=VALUE``; the method checks the key and value once the config is validated."""
    try:
        return parse_loss_arg(text)
    except MethodError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def check_common(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Executor:
    """What argparse cannot check alone: the thread count (then applied), --jobs and the --json folder; returns
    the executor the flags ask for."""
    own.apply(parser, args)  # data and teacher of one's own, checked first
    if args.jobs is None:
        args.jobs = 1
    if args.threads is None:
        args.threads = DATASETS[args.dataset].threads
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if not 1 <= args.jobs <= MAX_JOBS:
        parser.error(f"--jobs must be between 1 and {MAX_JOBS}, got {args.jobs}")
    torch.set_num_threads(args.threads)
    if args.json and not Path(args.json).expanduser().resolve().parent.is_dir():
        parser.error(f"--json: folder {Path(args.json).parent} does not exist")
    try:
        return make_executor(args.executor, args.jobs, args.ray_address, args.threads)
    except Exception as error:  # Ray missing, or its cluster unreachable
        parser.error(f"--executor {args.executor}: {one_line(error)}")


def parse_seeds(text: str) -> int:
    """``--seeds``: how many consecutive seeds, from ``--seed`` on."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of seeds, got {text!r}") from None
    if not 1 <= count <= MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_SEEDS}, got {count}")
    return count


def config_fields() -> set[str]:
    return set(RunConfig.__dataclass_fields__)


def config_from_args(args: argparse.Namespace, **overrides) -> RunConfig:
    """The RunConfig of the flags, ``overrides`` on top (a lesson's settings, minus what was given explicitly)."""
    values = {**{name: getattr(args, name) for name in config_fields() if hasattr(args, name)}, **overrides}
    if "loss_args" in values:  # argparse appends to a list; a RunConfig holds (key, value) pairs in a tuple
        values["loss_args"] = tuple(tuple(pair) for pair in values["loss_args"])
    return RunConfig(**values)


def flag_value(argv: Sequence[str], flag: str) -> str | None:
    """The value given to ``flag`` ("--flag VALUE" or "--flag=VALUE"), the last one wins; None if absent."""
    found = None
    for i, word in enumerate(argv):
        if word == flag and i + 1 < len(argv):
            found = argv[i + 1]
        elif word.startswith(flag + "="):
            found = word.partition("=")[2]
    return found


def explicit_flags(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> dict:
    """The settings given on the command line itself (not defaults): parsed again with every default suppressed."""
    quiet = argparse.ArgumentParser(add_help=False)
    for action in parser._actions:  # argparse has no public way to copy a parser's arguments
        if action.option_strings and action.dest != "help":
            kwargs = {"dest": action.dest, "default": argparse.SUPPRESS}
            if isinstance(action, (argparse._StoreTrueAction, argparse.BooleanOptionalAction)):
                kwargs["action"] = action.__class__
            else:
                kwargs.update(
                    type=action.type,
                    nargs=action.nargs,
                    action="append" if isinstance(action, argparse._AppendAction) else "store",
                )
            quiet.add_argument(*action.option_strings, **kwargs)
    return vars(quiet.parse_known_args(argv)[0])


def guarded(
    parser: argparse.ArgumentParser, work: Callable[[], T], cleanup: Callable[[], None]
) -> tuple[int, T | None]:
    """``(0, work())``, or the documented exit for the engine's errors: bad settings exit 2 with one line (through
    ``parser.error``), divergence ``(1, None)``, Ctrl-C ``(130, None)``.  ``cleanup`` (closing progress bars) runs
    first in every case."""
    try:
        value = work()
    except (ConfigError, DatasetUnavailable, ValueError) as error:
        cleanup()
        parser.error(str(error))
    except Diverged as error:
        cleanup()
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return EXIT_DIVERGED, None
    except KeyboardInterrupt:
        cleanup()
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED, None
    cleanup()
    return 0, value


def text_table(rows: Sequence[Sequence[str]], left_columns: int = 0) -> str:
    """Rows of cells as aligned columns under a dashed rule; the first ``left_columns`` are left-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    align = lambda i, cell, w: cell.ljust(w) if i < left_columns else cell.rjust(w)  # noqa: E731
    lines = ["  ".join(align(i, cell, w) for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor local|ray`` and ``--ray-address``: where a command's trainings run."""
    parser.add_argument(
        "--executor",
        choices=list(EXECUTORS),
        default="local",
        help="local: worker processes on this machine; ray: a Ray cluster ($KD_RAY_ADDRESS or --ray-address; "
        "without either, a local Ray is started)",
    )
    parser.add_argument("--ray-address", help="the Ray cluster to use with --executor ray")
