"""kd-train: the JSON it writes, its summary, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kd_core.cli.train import main

QUICK = ["--teacher-epochs", "4", "--epochs", "2", "--quiet"]


def test_json_has_the_documented_keys(tmp_path, capsys):
    out = tmp_path / "result.json"
    assert main([*QUICK, "--temperature", "3", "--lam", "0.6", "--seed", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {"config", "teacher", "student", "baseline", "history", "seconds"} <= set(data)
    config = data["config"]
    assert (config["temperature"], config["lam"], config["seed"], config["dataset"]) == (3.0, 0.6, 1, "digits")
    assert config["teacher"] == "mlp-large" and config["student"] == "mlp-small"  # resolved, not None
    for key in ("teacher", "student", "baseline"):
        assert 0.0 <= data[key]["accuracy"] <= 1.0 and len(data[key]["per_class_accuracy"]) == 10
    assert data["teacher"]["params"] > data["student"]["params"] > 0
    assert 0.0 <= data["student"]["agreement"] <= 1.0
    phases = [row["phase"] for row in data["history"]]
    assert phases == ["teacher"] * 4 + ["student"] * 2 + ["baseline"] * 2
    assert set(data["history"][0]) >= {"phase", "epoch", "loss", "soft_loss", "hard_loss", "test_accuracy"}
    assert set(data["seconds"]) == {"teacher", "student", "baseline"}
    summary = capsys.readouterr().out
    assert "KD student" in summary and "scratch baseline" in summary and "KD − baseline" in summary


def test_no_baseline_gives_null(tmp_path):
    out = tmp_path / "result.json"
    assert main([*QUICK, "--no-baseline", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["baseline"] is None


@pytest.mark.parametrize(
    "args, words",
    [
        (["--temperature", "0"], "temperature"),
        (["--temperature", "nan"], "temperature"),
        (["--temperature", "-inf"], "temperature"),
        (["--lam", "1.5"], "lam"),
        (["--epochs", "0"], "epochs"),
        (["--batch-size", "0"], "batch_size"),
        (["--batch-size", "100000"], "batch_size"),
        (["--lr", "0"], "lr"),
        (["--lr", "1e3"], "lr"),
        (["--seed", "abc"], "--seed"),
        (["--dataset", "imagenet"], "--dataset"),
        (["--student", "resnet"], "--student"),
        (["--omit-class", "10"], "omit_class"),
        (["--keep-classes", "7,x"], "keep_classes"),
        (["--keep-classes", "0,1,2,3,4,5,6,7,8,9"], "keep_classes"),
        (["--keep-classes", "7,8", "--omit-class", "3"], "keep_classes and omit_class"),
        (["--student-fraction", "0"], "student_fraction"),
        (["--student-fraction", "1.5"], "student_fraction"),
        (["--threads", "0"], "--threads"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, words):
    out = tmp_path / "result.json"
    with pytest.raises(SystemExit) as caught:
        main([*QUICK, *args, "--json", str(out)])
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("kd-train: error:") and words in err
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing half-written


def test_dataset_not_available_offline_is_one_line(tmp_path, capsys, monkeypatch):
    import torchvision

    def no_network(self, *args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", no_network)
    with pytest.raises(SystemExit) as caught:
        main([*QUICK, "--dataset", "mnist", "--data-dir", str(tmp_path / "nothing")])
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mnist" in err and str(tmp_path / "nothing") in err


def test_divergence_exits_nonzero_with_a_clear_message(tmp_path, capsys):
    out = tmp_path / "result.json"
    assert main([*QUICK, "--lr", "10", "--json", str(out)]) == 1
    err = capsys.readouterr().err
    assert "diverged" in err and "Traceback" not in err
    assert not out.exists()


def test_console_script_runs_as_a_program(tmp_path):
    """The installed entry point, as a user types it: progress on stderr, the table on stdout."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "kd_core.cli.train",
            "--teacher-epochs",
            "2",
            "--epochs",
            "1",
            "--cache-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "KD student" in completed.stdout
    assert "student" in completed.stderr and "step" in completed.stderr  # tqdm bars


# ---------------------------------------------------------------- kd-train --ship

SHIP_QUICK = ["--teacher-epochs", "1", "--epochs", "1", "--quiet"]


def test_ship_writes_the_files_a_table_and_a_deployment_section(tmp_path, capsys):
    out, folder = tmp_path / "result.json", tmp_path / "shipped"
    assert main([*SHIP_QUICK, "--ship", str(folder), "--json", str(out)]) == 0
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted(f"{m}-{f}.onnx" for m in ("teacher", "student", "baseline") for f in ("fp32", "int8"))
    deployment = json.loads(out.read_text())["deployment"]
    assert deployment["folder"] == str(folder) and len(deployment["models"]) == 6
    for model in deployment["models"]:
        assert model["bytes"] == (folder / model["file"]).stat().st_size
        assert {"accuracy", "agreement", "macs", "params", "latency_seconds", "throughput_images_per_second"} <= set(
            model
        )
        assert [point["batch"] for point in model["batch_curve"]] == [1, 8, 64, 256]
    printed = capsys.readouterr().out
    assert f"deployment in {folder}" in printed and "int8 dynamic" in printed and "µs per image at batch" in printed


def test_ship_over_seeds_writes_a_subfolder_each_and_intervals(tmp_path, capsys):
    out, folder = tmp_path / "result.json", tmp_path / "shipped"
    assert main([*SHIP_QUICK, "--no-baseline", "--seeds", "2", "--ship", str(folder), "--json", str(out)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["seed-0", "seed-1"]
    deployment = json.loads(out.read_text())["deployment"]
    assert [d["seed"] for d in deployment["seeds"]] == [0, 1]
    row = deployment["summary"][0]
    assert (row["model"], row["format"]) == ("teacher", "fp32")
    assert set(row["accuracy"]) == {"mean", "sd", "low", "high"}
    assert "deployment over 2 seeds: mean [95 % interval]" in capsys.readouterr().out


@pytest.mark.parametrize("what", ["a folder with a file", "a file"])
def test_ship_refuses_a_folder_that_is_not_empty_before_training(tmp_path, capsys, what):
    target = tmp_path / "shipped"
    if what == "a file":
        target.write_text("mine")
    else:
        target.mkdir()
        (target / "mine.txt").write_text("mine")
    with pytest.raises(SystemExit) as caught:
        main([*SHIP_QUICK, "--ship", str(target), "--json", str(tmp_path / "result.json")])
    err = capsys.readouterr().err.strip()
    assert caught.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("kd-train: error: --ship: ")
    assert not (tmp_path / "result.json").exists()
    assert (target.read_text() if what == "a file" else (target / "mine.txt").read_text()) == "mine"


def test_list_lessons_groups_hinton_the_findings_after_him_and_the_language_lesson(capsys):
    from kd_core.language.lesson import LANGUAGE_LESSON
    from kd_core.studies.lessons import LESSONS
    from kd_core.studies.research import FINDINGS

    assert main(["--list-lessons"]) == 0
    listed = capsys.readouterr().out
    hinton, after, language = listed.index("Hinton 2015:"), listed.index("After Hinton:"), listed.index("A language")
    assert hinton < after < language
    assert all(hinton < listed.index(f"{name} ") < after for name in LESSONS)
    assert all(after < listed.index(f"{name} ") < language for name in FINDINGS)
    assert listed.index(f"{LANGUAGE_LESSON.name} ") > language


@pytest.mark.parametrize(
    "argv, command",
    [
        (["--lesson", "capacity-gap", "--seeds", "2"], "research"),
        (["--lesson=fidelity"], "research"),
        (["--lesson", "language"], "language"),
        (["--dataset", "grammar", "--seeds", "2"], "language"),
        (["--dataset=text:notes.txt"], "language"),
        (["--lesson", "little-data", "--dataset", "digits"], None),
    ],
)
def test_kd_train_hands_findings_and_text_to_their_commands_with_every_flag(monkeypatch, argv, command):
    from kd_core.cli import language, research

    seen = []
    monkeypatch.setattr(research, "main", lambda args: seen.append(("research", args)) or 0)
    monkeypatch.setattr(language, "main", lambda args: seen.append(("language", args)) or 0)
    from kd_core.cli import train

    assert (train.other_command(argv) is not None) == (command is not None)
    if command is not None:
        assert main(argv) == 0 and seen == [(command, argv)]


def test_a_chain_teacher_is_the_kd_student_of_the_run_its_json_names(tmp_path, capsys):
    """--teacher-from: generation 2's teacher is generation 1's KD student (its accuracy, to the image), taken from
    the run a --json file describes; the summary gives each student's KL to the teacher."""
    cache = ["--cache-dir", str(tmp_path / "cache")]
    first, second = tmp_path / "gen1.json", tmp_path / "gen2.json"
    same = ["--teacher", "mlp-small", "--student", "mlp-small", "--teacher-epochs", "2", "--epochs", "2", "--quiet"]
    assert main([*same, *cache, "--json", str(first)]) == 0
    assert main(["--teacher-from", str(first), "--student", "mlp-small", "--epochs", "2", "--quiet", *cache,
                 "--json", str(second)]) == 0  # fmt: skip
    gen1, gen2 = json.loads(first.read_text()), json.loads(second.read_text())
    assert gen2["teacher"]["accuracy"] == gen1["student"]["accuracy"]
    assert gen2["config"]["teacher_from"] is not None and gen1["config"].get("teacher_from") is None
    assert "KL to teacher" in capsys.readouterr().out and gen2["student"]["teacher_kl"] >= 0


@pytest.mark.parametrize(
    "content, words",
    [(None, "no such file"), ("not json", "is not a kd-train --json file"), ('{"a": 1}', "no run's settings")],
)
def test_a_teacher_from_file_that_names_no_run_is_one_line_and_exit_2(tmp_path, capsys, content, words):
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as caught:
        main(["--teacher-from", str(path), "--quiet"])
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err
