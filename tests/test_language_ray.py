"""Text on Ray: ``kd-train --dataset grammar --executor ray`` trains each seed's students as Ray tasks and gives the
very bits per character (and samples) that local worker processes give for the same seeds, with their progress
relayed; a file of one's own named by a relative path trains there too (slow: a local Ray takes its time to start)."""

from __future__ import annotations

import json

import pytest

from kd_core.cli.language import main

TINY = [
    "--context", "16", "--teacher-layers", "2", "--teacher-width", "32", "--student-width", "16",
    "--teacher-steps", "40", "--steps", "30",
]  # fmt: skip

pytestmark = pytest.mark.slow


def measured(data: dict) -> list[tuple]:
    """What a seed's run must reproduce wherever it ran: its bits per character and its samples."""
    return [
        (row["seed"], row["kd_bits"], row["scratch_bits"], row["kd_sample"]["text"], row["scratch_sample"]["text"])
        for row in data["seeds"]
    ]


def test_ray_gives_the_local_executors_bits_for_the_same_seeds(ray_cluster, tmp_path, capsys):
    cache = str(tmp_path / "teachers")
    flags = ["--dataset", "grammar", "--seeds", "2", "--seed", "3", "--jobs", "2", "--cache-dir", cache, *TINY]
    assert main([*flags, "--executor", "local", "--quiet", "--json", str(tmp_path / "local.json")]) == 0
    capsys.readouterr()
    assert main([*flags, "--executor", "ray", "--json", str(tmp_path / "ray.json")]) == 0
    progress = capsys.readouterr().err
    local, on_ray = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("local", "ray"))
    assert [row[0] for row in measured(on_ray)] == [3, 4]
    assert measured(on_ray) == measured(local)  # the same bits, to the last one, and the same samples
    assert on_ray["kd_minus_scratch_bits"] == local["kd_minus_scratch_bits"]
    assert on_ray["teacher_bits"] == local["teacher_bits"]
    for index in (0, 1):  # each task's progress came back from its Ray worker
        assert f"KD student (seed index {index}) trained" in progress
        assert f"scratch student (seed index {index}) trained" in progress


def test_a_text_file_of_ones_own_by_a_relative_path_trains_on_ray(ray_cluster, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("the quick brown fox jumps over the lazy dog. " * 40)
    flags = ["--dataset", "text:notes.txt", "--seeds", "2", "--jobs", "2", "--cache-dir", "teachers", *TINY]
    assert main([*flags, "--executor", "ray", "--quiet", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"]["corpus"] == "text:notes.txt" and [row["seed"] for row in data["seeds"]] == [0, 1]
