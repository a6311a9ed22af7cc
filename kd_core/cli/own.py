"""The command line's data and teacher of one's own: ``--dataset folder:PATH|csv:PATH``, ``--label-column``,
``--teacher-onnx`` and ``--teacher-state``.  ``apply`` turns them into the RunConfig's names and checks the data
before anything runs, so bad data is one line and exit 2 and nothing is written."""

from __future__ import annotations

import argparse
import sys

from kd_core.data.custom import is_custom, load
from kd_core.data.datasets import DATASETS


def dataset_argument(text: str) -> str:
    """``--dataset``'s type: a built-in name, or folder:PATH / csv:PATH."""
    if text in dict.keys(DATASETS) or is_custom(text):
        return text
    raise argparse.ArgumentTypeError(
        f"unknown dataset {text!r}; choose one of: {', '.join(DATASETS)}, folder:PATH or csv:PATH"
    )


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--label-column", help="with --dataset csv:PATH: the column that holds the labels (default: the last)"
    )
    parser.add_argument(
        "--teacher-onnx",
        metavar="PATH",
        help="use this ONNX model as the teacher (run by onnxruntime; nothing is trained for it)",
    )
    parser.add_argument(
        "--teacher-state",
        metavar="PATH",
        help="use this state_dict (torch.save of model.state_dict()) as the teacher, in --teacher's "
        "architecture or the first of ours it fits; loaded with weights_only=True",
    )


def apply(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """Rewrite ``args.dataset`` and ``args.teacher`` for the flags above and load the data once (its notes to
    stderr); returns the settings it made, which a lesson's own settings must not override."""
    if getattr(args, "own_settings", None) is not None:  # applied already (kd-train does so before a lesson's settings)
        return args.own_settings
    made: dict = {}
    if args.label_column is not None:
        if not str(args.dataset).startswith("csv:"):
            parser.error("--label-column goes with --dataset csv:PATH")
        args.dataset = made["dataset"] = f"{args.dataset};label={args.label_column}"
    if args.teacher_onnx and args.teacher_state:
        parser.error("give --teacher-onnx or --teacher-state, not both")
    if args.teacher_onnx:
        if args.teacher:
            parser.error("--teacher-onnx is the teacher; leave out --teacher")
        args.teacher = made["teacher"] = f"onnx:{args.teacher_onnx}"
    elif args.teacher_state:
        args.teacher = made["teacher"] = f"state:{args.teacher_state}" + (
            f";arch={args.teacher}" if args.teacher else ""
        )
    if is_custom(args.dataset):
        made["dataset"] = args.dataset
        try:
            loaded = load(args.dataset)
        except ValueError as error:
            parser.error(str(error))
        for note in loaded.notes:
            print(f"{parser.prog}: note: {note}", file=sys.stderr)
    args.own_settings = made
    return made
