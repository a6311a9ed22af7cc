"""Taking a result away: state_dict and ONNX files (checked with onnxruntime), and the kd-train line of a run."""

from __future__ import annotations

import io
import shlex

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from dashboard.runs import exports
from kd_core import DATASETS, RunConfig, validate
from kd_core.cli import train
from kd_core.cli.common import config_from_args, make_parser, parse_seeds
from kd_core.models.architectures import ARCHITECTURES, build_model

# Every architecture the page can train, on the input shapes its datasets give them (digits 1×8×8 for all; the
# CNNs also on MNIST's 1×28×28 and CIFAR-10's 3×32×32, where their flattened sizes differ).
SHAPES = [(name, (1, 8, 8)) for name in ARCHITECTURES]
SHAPES += [
    (name, shape) for name in ARCHITECTURES if ARCHITECTURES[name].needs_images for shape in ((1, 28, 28), (3, 32, 32))
]


def trained_like(name: str, shape: tuple[int, ...]) -> torch.nn.Module:
    """A model with non-trivial weights (seeded), in training mode as a finished run leaves it."""
    torch.manual_seed(7)
    return build_model(name, shape, 10).train()


@pytest.mark.parametrize("name, shape", SHAPES, ids=[f"{n}-{'x'.join(map(str, s))}" for n, s in SHAPES])
def test_the_onnx_file_gives_pytorchs_logits_to_1e_5(name, shape):
    model = trained_like(name, shape)
    data = exports.onnx_bytes(model, torch.zeros(1, *shape), {"kd-dashboard part": "student"})
    assert model.training, "the page's model is left as it was"
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"] and [o.name for o in session.get_outputs()] == [
        "logits"
    ]
    images = torch.randn(37, *shape, generator=torch.Generator().manual_seed(1))  # any batch size, not the traced one
    (got,) = session.run(None, {"images": images.numpy()})
    with torch.no_grad():
        expected = model.eval()(images).numpy()
    difference = float(np.abs(got - expected).max())
    print(f"{name} {shape}: max |ONNX − PyTorch| = {difference:.2e}")
    assert got.shape == (37, 10) and difference < 1e-5
    assert {p.key: p.value for p in onnx.load_from_string(data).metadata_props}["kd-dashboard part"] == "student"


def test_the_state_dict_file_loads_into_a_fresh_model_of_the_architecture():
    model = trained_like("cnn-small", (1, 8, 8))
    loaded = torch.load(io.BytesIO(exports.state_dict_bytes(model)), weights_only=True)
    fresh = build_model("cnn-small", (1, 8, 8), 10)
    fresh.load_state_dict(loaded)
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), name


def test_model_files_are_made_once_per_run_and_kind(monkeypatch):
    calls = []
    monkeypatch.setattr(exports, "memo", exports.Memo(entries=2))
    monkeypatch.setattr(exports, "state_dict_bytes", lambda model: calls.append(model) or b"weights")
    model, config = trained_like("mlp-small", (1, 8, 8)), RunConfig()
    for _ in range(3):
        assert exports.model_file("run-a", "student", "pt", model, torch.zeros(1, 1, 8, 8), config) == b"weights"
    assert len(calls) == 1
    exports.model_file("run-b", "student", "pt", model, None, config)
    exports.model_file("run-c", "student", "pt", model, None, config)  # the memo holds two: run-a goes
    exports.model_file("run-a", "student", "pt", model, None, config)
    assert len(calls) == 4
    with pytest.raises(ValueError):
        exports.model_file("run-a", "student", "zip", model, None, config)


def test_file_names_and_loading_code_name_the_architecture():
    config = RunConfig(teacher="mlp-large", student="mlp-small", student_width=8, temperature=2.5, seed=3)
    assert exports.file_name(config, "student", "onnx") == "kd-student-mlp-small-T2.5-seed3.onnx"
    assert exports.file_name(config, "teacher", "pt") == "kd-teacher-mlp-large-T2.5-seed3.pt"
    code = exports.loading_code(config, "student", (1, 8, 8), 10)
    assert "build_model('mlp-small', (1, 8, 8), 10, width=8)" in code and "kd-student-mlp-small-T2.5-seed3.pt" in code


# ---------------------------------------------------------------- Copy as command


def parse(line: str) -> tuple[RunConfig, int, int]:
    """The line through kd-train's own parser: (its RunConfig, --seeds, --threads)."""
    words = shlex.split(line)
    assert words[0] == "kd-train"
    parser = make_parser("kd-train", train.__doc__)
    parser.add_argument("--seeds", type=parse_seeds, default=1)  # as kd_core.cli.train.main adds it
    args = parser.parse_args(words[1:])
    threads = (
        args.threads if args.threads is not None else DATASETS[args.dataset].threads
    )  # as check_common resolves it
    return config_from_args(args), args.seeds, threads


# What the page's sidebar hands a Distill: every control's value, explicit (sidebar.config()).
PAGE = dict(
    dataset="digits",
    teacher="mlp-large",
    student="mlp-small",
    student_width=16,
    temperature=4.0,
    lam=0.7,
    loss="kd",
    student_fraction=1.0,
    omit_class=None,
    epochs=20,
    teacher_epochs=30,
    lr=0.01,
    batch_size=64,
    seed=0,
)
CONFIGS = [
    (RunConfig(**PAGE), 1),
    (RunConfig(**{**PAGE, "student_fraction": 0.05, "lam": 0.5}), 5),  # the little-data lesson
    (
        RunConfig(
            **{
                **PAGE,
                "omit_class": 3,
                "student": "mlp-wide",
                "student_width": 256,
                "temperature": 20.0,
                "lam": 1.0,
                "epochs": 50,
                "holdout": 0.2,
            }
        ),
        5,
    ),  # unseen-class, with the setting no control shows
    (RunConfig(**{**PAGE, "student_width": 8, "loss": "seed-script", "temperature": 2.5, "seed": 17}), 3),
    (
        RunConfig(
            **{
                **PAGE,
                "loss": "kd-no-t2",
                "lr": 0.003,
                "batch_size": 128,
                "teacher": "cnn-large",
                "student": "cnn-small",
                "student_width": 4,
                "optimizer": "sgd",
                "lam": 0.05,
            }
        ),
        2,
    ),
    (
        RunConfig(
            dataset="mnist",
            teacher="mlp-dropout",
            student="mlp-800",
            teacher_epochs=8,
            epochs=8,
            temperature=20.0,
            lr=0.001,
            batch_size=128,
            data_dir="/data/my MNIST",
        ),
        1,
    ),
    (RunConfig(baseline=False, equal_steps=False, device="cpu", student_fraction=0.3333), 10),
]


@pytest.mark.parametrize("config, seeds", CONFIGS)
def test_the_command_line_parses_back_to_the_same_run(config, seeds):
    line = exports.command_line(config, seeds)
    parsed, parsed_seeds, threads = parse(line)
    assert parsed == exports.minimal_config(config)  # field for field, what was changed from kd-train's defaults
    assert validate(parsed) == validate(config)  # and so the very same run once resolved
    assert parsed_seeds == seeds and ("--seeds" in line) == (seeds > 1)
    assert threads == 1  # the page trains on one thread, and the last bits depend on it


def test_the_command_line_lists_only_what_was_changed():
    assert exports.command_line(RunConfig(**PAGE)) == "kd-train"
    assert (
        exports.command_line(RunConfig(**{**PAGE, "student_fraction": 0.05, "lam": 0.5}), 5)
        == "kd-train --lam 0.5 --student-fraction 0.05 --seeds 5"
    )
    line = exports.command_line(RunConfig(**{**PAGE, "omit_class": 3, "student_width": 8, "loss": "kd-no-t2"}))
    assert line == "kd-train --student-width 8 --omit-class 3 --loss kd-no-t2"
    assert exports.command_line(RunConfig(dataset="mnist")) == "kd-train --dataset mnist --threads 1"
    assert "--data-dir '/data/my MNIST'" in exports.command_line(RunConfig(data_dir="/data/my MNIST"))


def test_the_pages_onnx_file_is_the_engines_one_self_contained_file_without_this_machines_paths():
    import kd_core

    model = trained_like("cnn-small", (1, 8, 8))
    data = exports.onnx_bytes(model, torch.zeros(1, 1, 8, 8))
    assert exports.onnx_bytes is kd_core.onnx_bytes  # one exporter: the page's downloads and kd-train --ship
    proto = onnx.load_from_string(data)
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    assert not any(node.metadata_props for node in proto.graph.node)  # no stack traces with source paths
    assert __file__.rsplit("/", 2)[0].encode() not in data
