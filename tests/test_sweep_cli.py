"""kd-sweep: argument parsing, one-line errors (exit 2), the JSON format, the table."""

from __future__ import annotations

import argparse
import json

import pytest

from kd_core.cli import sweep as sweep_cli

FAST = ["--epochs", "2", "--teacher-epochs", "3", "--device", "cpu", "--quiet"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1,2,4,8,16", [1.0, 2.0, 4.0, 8.0, 16.0]),
        (" 0.5 , 1 ", [0.5, 1.0]),
        ("3%,5%,100%", [0.03, 0.05, 1.0]),
        ("1e-1", [0.1]),
    ],
)
def test_parse_values(text, expected):
    assert sweep_cli.parse_values(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "1,,2", "a,b", "1,1", "nan", "inf", "4,"])
def test_parse_values_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        sweep_cli.parse_values(text)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--param", "epochs", "--values", "1"], "cannot sweep 'epochs'"),
        (["--param", "lam", "--values", "0.5,2"], "lam value 2.0"),
        (["--param", "temperature", "--values", "0,1"], "temperature value 0.0"),
        (["--param", "student-fraction", "--values", "0"], "student-fraction value 0.0"),
        (["--param", "lam", "--values", "1", "--seeds", "0"], "--seeds"),
        (["--param", "lam", "--values", "x"], "--values"),
        (["--param", "lam"], "--values"),
        (["--values", "1"], "--param"),
        (["--param", "lam", "--values", "1", "--json", "/no/such/folder/x.json"], "does not exist"),
        (["--param", "lam", "--values", "1", "--threads", "0"], "--threads"),
        (["--param", "lam", "--values", "1", "--omit-class", "10"], "omit_class"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sweep_cli.main(argv + FAST)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kd-sweep: error:"), err
    assert fragment in err


def test_param_spellings():
    assert sweep_cli.parse_param("student-fraction") == "student_fraction"
    assert sweep_cli.parse_param("student_fraction") == "student_fraction"
    assert sweep_cli.parse_param("T") == "temperature"
    assert sweep_cli.parse_param("lam") == "lam"


def test_temperature_sweep_json_and_table(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    code = sweep_cli.main(
        ["--param", "temperature", "--values", "1,4", "--seeds", "2", "--seed", "5", "--json", str(out), *FAST]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert data["param"] == "temperature"
    assert [(r["value"], r["seed"]) for r in data["runs"]] == [(1.0, 5), (4.0, 5), (1.0, 6), (4.0, 6)]
    for row in data["runs"]:
        assert {"value", "seed", "student_accuracy", "baseline_accuracy", "teacher_accuracy"} <= set(row)
        for key in ("student_accuracy", "baseline_accuracy", "teacher_accuracy"):
            assert 0.0 <= row[key] <= 1.0
    # the baseline ignores T: one per seed, the same in each of its rows
    by_seed = {}
    for row in data["runs"]:
        by_seed.setdefault(row["seed"], set()).add(row["baseline_accuracy"])
    assert all(len(values) == 1 for values in by_seed.values())
    printed = capsys.readouterr().out
    assert "KD − baseline" in printed and "4 runs in" in printed and f"wrote {out}" in printed
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_fraction_sweep_percent_values_and_no_baseline(tmp_path):
    out = tmp_path / "f.json"
    code = sweep_cli.main(
        [
            "--param",
            "student-fraction",
            "--values",
            "10%,100%",
            "--seeds",
            "1",
            "--no-baseline",
            "--no-equal-steps",
            "--json",
            str(out),
            *FAST,
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert data["param"] == "student_fraction"
    assert [r["value"] for r in data["runs"]] == pytest.approx([0.1, 1.0])
    assert all(r["baseline_accuracy"] is None for r in data["runs"])
    assert all(r["epochs"] == 2 for r in data["runs"])


def test_equal_steps_is_the_default_for_fraction_sweeps(tmp_path):
    out = tmp_path / "f.json"
    assert (
        sweep_cli.main(["--param", "student-fraction", "--values", "0.25,1", "--seeds", "1", "--json", str(out), *FAST])
        == 0
    )
    epochs = [r["epochs"] for r in json.loads(out.read_text())["runs"]]
    assert epochs[1] == 2 and epochs[0] > 2  # a quarter of the data: more epochs, the same number of steps


def test_progress_bar_goes_to_stderr(capsys):
    assert (
        sweep_cli.main(["--param", "lam", "--values", "0.5", "--seeds", "1", *[a for a in FAST if a != "--quiet"]]) == 0
    )
    captured = capsys.readouterr()
    assert "sweep" in captured.err and "runs" in captured.err
    assert "sweep:" not in captured.out


def test_two_jobs_give_the_rows_of_one(tmp_path):
    """``--jobs 2`` runs the sweep in two worker processes (teachers trained there too, from an empty cache);
    every row is the one ``--jobs 1`` gives, number for number."""
    rows = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}.json"
        assert (
            sweep_cli.main(
                [
                    "--param",
                    "temperature",
                    "--values",
                    "1,4,16",
                    "--seeds",
                    "2",
                    "--jobs",
                    str(jobs),
                    "--cache-dir",
                    str(tmp_path / f"cache{jobs}"),
                    "--json",
                    str(out),
                    *FAST,
                ]
            )
            == 0
        )
        rows[jobs] = json.loads(out.read_text())["runs"]
    assert len(rows[1]) == 6 and rows[2] == rows[1]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--dataset", "grammar", "--param", "temperature", "--values", "1,2"], "sweeps --param loss only"),
        (["--dataset", "grammar", "--param", "loss", "--values", "kd,fitnets"], "fitnets"),
    ],
)
def test_a_text_sweep_takes_only_losses_a_language_student_can_use(argv, fragment, capsys):
    """kd-sweep on text sweeps the loss (a language model's students, kd_core/cli/language.py); anything else, or
    a method that needs an image model's features, is one line and exit 2 before anything trains."""
    with pytest.raises(SystemExit) as caught:
        sweep_cli.main([*argv, "--quiet"])
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err


def test_a_text_sweep_gives_each_loss_its_row(monkeypatch, capsys):
    from kd_core.cli import language

    asked = []

    def fake_sweep(config, losses, seeds, executor, cache, data_dir):
        asked.append((config.corpus, list(losses), seeds))
        return []

    monkeypatch.setattr(language, "loss_sweep", fake_sweep)
    argv = ["--dataset", "grammar", "--param", "loss", "--values", "kd,reverse-kl,jsd", "--seeds", "2", "--quiet"]
    assert sweep_cli.main(argv) == 0
    assert asked == [("grammar", ["kd", "reverse-kl", "jsd"], 2)]
    assert "bits per character" in capsys.readouterr().out


def test_a_text_sweep_runs_its_seeds_where_executor_says(monkeypatch):
    """kd-sweep on text takes --executor and --ray-address as kd-train on text does (the seeds as Ray tasks)."""
    from kd_core.cli import language

    made, used = [], []
    monkeypatch.setattr(language, "make_executor", lambda *args, **kwargs: made.append((args, kwargs)) or "ray-tasks")
    monkeypatch.setattr(
        language, "loss_sweep", lambda config, losses, seeds, executor, *rest: used.append(executor) or []
    )
    argv = ["--dataset", "grammar", "--param", "loss", "--values", "kd", "--seeds", "2", "--quiet"]
    assert sweep_cli.main([*argv, "--executor", "ray", "--ray-address", "127.0.0.1:6379"]) == 0
    assert made == [(("ray", 2, "127.0.0.1:6379"), {"threads": 1})] and used == ["ray-tasks"]
