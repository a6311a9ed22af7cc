"""The methods in training: FitNets' hint (its features, regressor and errors), the run key and the CLIs
(``kd-train --loss NAME --loss-arg KEY=VALUE``, ``kd-sweep --param loss``), a couple of epochs on digits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kd_core.cli.sweep import main as sweep_main
from kd_core.cli.train import main as train_main
from kd_core.config import ConfigError, RunConfig, validate
from kd_core.methods.fitnets import ConvReg, fitnets_parts, hint_features, regressor
from kd_core.methods.registry import METHODS, MethodError, make_loss
from kd_core.models.architectures import build_model
from kd_core.runs.setup import RunSetup

QUICK = ["--teacher-epochs", "3", "--epochs", "2", "--quiet"]


def test_fitnets_mlp_hint_matches_a_hand_computed_mse():
    torch.manual_seed(0)
    student = build_model("mlp-small", (1, 8, 8), 10).double()
    x = torch.randn(6, 1, 8, 8, dtype=torch.float64)
    teacher_features = torch.randn(20, 256, dtype=torch.float64)
    loss = make_loss("fitnets", (("weight", 3.0),), teacher_features, (16,), seed=5)
    loss.regressor.double()
    loss.attach(student)
    rows = torch.tensor([4, 0, 7, 19, 3, 11])
    loss.on_step(1, rows)
    logits = student(x)
    y = torch.tensor([1, 2, 3, 4, 5, 6])
    parts = loss(logits, None, y, 4.0, 0.7)
    # by hand, in NumPy: the hidden layer relu(W1 x + b1), the regressor W x + b, the mean of squared errors
    w1, b1 = student.net[1].weight.detach().numpy(), student.net[1].bias.detach().numpy()
    hidden = np.maximum(x.view(6, -1).numpy() @ w1.T + b1, 0)
    w, b = loss.regressor.weight.detach().numpy(), loss.regressor.bias.detach().numpy()
    mse = np.mean((hidden @ w.T + b - teacher_features[rows].numpy()) ** 2)
    ce = F.cross_entropy(logits, y).item()
    assert abs(parts["hint"].item() - mse) < 1e-6
    assert abs(parts["total"].item() - (ce + 3.0 * mse)) < 1e-6
    loss.detach()
    assert not student.net[-1]._forward_pre_hooks  # the hook is gone after training


def test_fitnets_gradcheck_float64():
    g = torch.Generator().manual_seed(1)
    reg = regressor((5,), (3,), seed=2).double()
    target = torch.randn(4, 3, generator=g, dtype=torch.float64)
    logits = torch.randn(4, 6, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3])

    def total(features, z):
        hint = F.mse_loss(reg(features), target)
        return fitnets_parts(z, None, y, 4.0, 0.7, epoch=1, ce=1.0, weight=100.0, hint=hint)["total"]

    inputs = (
        torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True),
        logits.clone().requires_grad_(True),
    )
    assert torch.autograd.gradcheck(total, inputs)


def test_fitnets_conv_regressor_follows_mdistiller_shapes():
    assert ConvReg((8, 14, 14), (64, 7, 7))(torch.zeros(2, 8, 14, 14)).shape == (2, 64, 7, 7)  # stride-2 conv
    assert ConvReg((16, 4, 4), (32, 8, 8))(torch.zeros(2, 16, 4, 4)).shape == (2, 32, 8, 8)  # transposed conv
    assert ConvReg((16, 16, 16), (64, 16, 16))(torch.zeros(2, 16, 16, 16)).shape == (2, 64, 16, 16)
    with pytest.raises(MethodError, match="cannot be regressed"):
        ConvReg((8, 3, 3), (8, 7, 7))
    teacher, student = build_model("cnn-large", (1, 28, 28), 10), build_model("cnn-small", (1, 28, 28), 10)
    x = torch.randn(3, 1, 28, 28)
    assert hint_features(teacher, x).shape == (3, 64, 7, 7) and hint_features(student, x).shape == (3, 8, 14, 14)


def test_fitnets_without_compatible_layers_is_refused():
    with pytest.raises(ConfigError, match="vector .*feature map"):
        validate(RunConfig(dataset="mnist", teacher="cnn-large", student="mlp-small", loss="fitnets"))
    with pytest.raises(ConfigError, match="feature map .*vector"):
        validate(RunConfig(teacher="mlp-large", student="cnn-small", loss="fitnets"))
    validate(RunConfig(teacher="cnn-large", student="cnn-small", loss="fitnets"))  # digits are 8×8 images


def test_fitnets_trains_a_cnn_pair_and_computes_teacher_features_once():
    config = RunConfig(teacher="cnn-large", student="cnn-small", loss="fitnets", teacher_epochs=2, epochs=2)
    setup = RunSetup(config)
    setup.teacher()
    first = setup.train_student(setup.config, "student")
    features = setup.teacher_features(setup.config)
    again = setup.train_student(setup.config, "student")
    assert setup.teacher_features(setup.config) is features and len(setup._features) == 1
    assert features.shape[1:] == (64, 2, 2)
    assert {"hard", "hint"} <= set(first.history[-1].parts)
    assert first.report.accuracy == again.report.accuracy  # deterministic, regressor included
    assert not first.model.fc._forward_pre_hooks


def test_method_errors_in_training_are_one_line_usage_errors(capsys):
    # 1437 digits training examples in batches of 2: the last holds 1, which DIST's class term cannot use
    assert_usage(train_main, [*QUICK, "--loss", "dist", "--batch-size", "2"], "last batch of 1", capsys)
    assert_usage(train_main, [*QUICK, "--loss", "dkd", "--loss-arg", "gamma=2"], "no hyperparameter 'gamma'", capsys)
    assert_usage(train_main, [*QUICK, "--loss", "dkd", "--loss-arg", "beta=-1"], "between 0 and 100", capsys)
    assert_usage(train_main, [*QUICK, "--loss", "dkd", "--loss-arg", "beta"], "KEY=VALUE", capsys)
    assert_usage(train_main, [*QUICK, "--loss", "nkd"], "--loss", capsys)
    assert_usage(sweep_main, [*QUICK, "--param", "loss", "--values", "kd,xkd"], "unknown loss 'xkd'", capsys)
    assert_usage(sweep_main, [*QUICK, "--param", "loss", "--values", "kd,kd"], "appears twice", capsys)


def assert_usage(main, argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err


@pytest.mark.parametrize("name", ["dkd", "dist", "logit-std", "fitnets", "kd-matched"])
def test_kd_train_runs_each_method_and_reports_its_parts(name, tmp_path):
    out = tmp_path / "run.json"
    extra = ["--loss-arg", "warmup_epochs=1"] if METHODS[name].needs_epoch else []
    assert train_main([*QUICK, "--loss", name, *extra, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["config"]["loss"] == name
    assert data["config"]["loss_args"] == ([["warmup_epochs", 1.0]] if extra else [])
    student = [row for row in data["history"] if row["phase"] == "student"]
    expected = {"dkd": "tckd", "dist": "intra", "logit-std": "soft", "fitnets": "hint", "kd-matched": "soft"}[name]
    assert f"{expected}_loss" in student[-1] and "hard_loss" in student[-1]


def test_sweep_over_the_loss_gives_kd_train_numbers(tmp_path, capsys):
    out, single = tmp_path / "sweep.json", tmp_path / "one.json"
    assert sweep_main([*QUICK, "--param", "loss", "--values", "kd,dkd", "--seeds", "2", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["runs"]
    assert [(r["value"], r["seed"]) for r in rows] == [("kd", 0), ("dkd", 0), ("kd", 1), ("dkd", 1)]
    assert "dkd" in capsys.readouterr().out
    assert train_main([*QUICK, "--loss", "dkd", "--seed", "1", "--json", str(single)]) == 0
    alone = json.loads(single.read_text())
    assert rows[3]["student_accuracy"] == alone["student"]["accuracy"]
    assert rows[3]["baseline_accuracy"] == alone["baseline"]["accuracy"]


def test_loss_args_change_the_result_and_the_key(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert train_main([*QUICK, "--loss", "dkd", "--loss-arg", "warmup_epochs=0", "--json", str(a)]) == 0
    assert (
        train_main([*QUICK, "--loss", "dkd", "--loss-arg", "warmup_epochs=0", "--loss-arg", "beta=0", "--json", str(b)])
        == 0
    )
    hist = lambda path: [r["loss"] for r in json.loads(path.read_text())["history"] if r["phase"] == "student"]  # noqa: E731
    assert hist(a) != hist(b)


def test_the_pages_kd_train_line_carries_the_loss_args(tmp_path):
    from dashboard.runs.exports import command_line

    config = RunConfig(loss="dkd", loss_args=(("beta", 2.0), ("warmup_epochs", 5.0)), epochs=2, teacher_epochs=3)
    line = command_line(config)
    assert line == "kd-train --teacher-epochs 3 --epochs 2 --loss dkd --loss-arg beta=2 --loss-arg warmup_epochs=5"
    out = tmp_path / "run.json"
    assert train_main([*line.split()[1:], "--quiet", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["config"]["loss_args"] == [["beta", 2.0], ["warmup_epochs", 5.0]]


def test_loss_args_on_top_of_a_lesson(tmp_path):
    out = tmp_path / "run.json"
    assert (
        train_main(
            [
                "--lesson",
                "little-data",
                "--seeds",
                "1",
                *QUICK,
                "--loss",
                "dkd",
                "--loss-arg",
                "beta=2",
                "--loss-arg",
                "alpha=0.5",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    config = json.loads(out.read_text())["config"]
    assert config["loss_args"] == [["alpha", 0.5], ["beta", 2.0]] and config["student_fraction"] == 0.05
