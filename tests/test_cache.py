"""The teacher cache: round trip, and recovery from truncated, corrupted or unwritable storage."""

from __future__ import annotations

import os

import pytest
import torch

from kd_core import RunConfig, TeacherCache, run
from kd_core.runs.cache import default_cache_dir

CONFIG = RunConfig(teacher_epochs=4, epochs=2)


def only_teacher_file(folder) -> "os.PathLike":
    files = list(folder.glob("teacher-*.pt"))
    assert len(files) == 1, files
    return files[0]


def test_second_run_loads_the_cached_teacher(tmp_path):
    first = run(CONFIG, cache=TeacherCache(tmp_path))
    second = run(
        CONFIG.replace(temperature=8, lam=0.5), cache=TeacherCache(tmp_path)
    )  # T and λ don't change the teacher
    assert (first.teacher_from_cache, second.teacher_from_cache) == (False, True)
    assert second.teacher == first.teacher
    assert [r for r in second.history if r.phase == "teacher"] == [r for r in first.history if r.phase == "teacher"]
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary files
    third = run(CONFIG.replace(teacher_epochs=5), cache=TeacherCache(tmp_path))  # a different teacher: a new entry
    assert not third.teacher_from_cache and len(list(tmp_path.glob("teacher-*.pt"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip-bits"])
def test_damaged_teacher_file_is_removed_and_retrained(tmp_path, damage):
    original = run(CONFIG, cache=TeacherCache(tmp_path))
    path = only_teacher_file(tmp_path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a torch file at all")
    else:  # a loadable file whose weights no longer match their checksum
        entry = torch.load(path, weights_only=True)
        name = next(iter(entry["states"]["teacher"]))
        entry["states"]["teacher"][name] = entry["states"]["teacher"][name] + 1.0
        torch.save(entry, path)
    with pytest.warns(UserWarning, match="corrupt"):
        again = run(CONFIG, cache=TeacherCache(tmp_path))
    assert not again.teacher_from_cache
    assert again.teacher == original.teacher  # retrained deterministically to the same teacher
    assert only_teacher_file(tmp_path).read_bytes() != b"not a torch file at all"
    assert run(CONFIG, cache=TeacherCache(tmp_path)).teacher_from_cache  # and cached again


def test_unwritable_cache_folder_falls_back_to_memory(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="not writable"):
        cache = TeacherCache(blocker / "cache")
    assert not cache.on_disk
    first = run(CONFIG, cache=cache)
    second = run(CONFIG, cache=cache)
    assert second.teacher_from_cache and second.teacher == first.teacher


def test_cache_folder_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KD_CACHE_DIR", str(tmp_path / "from-env"))
    assert default_cache_dir() == tmp_path / "from-env"
    assert TeacherCache().folder == tmp_path / "from-env"
    monkeypatch.delenv("KD_CACHE_DIR")
    assert default_cache_dir().parts[-2:] == ("kd-dashboard", "cache")


def test_identical_request_is_served_from_the_results_cache(tmp_path):
    from kd_core import ResultCache

    results = ResultCache(tmp_path)
    first = run(CONFIG, cache=TeacherCache(tmp_path), results=results)
    events = []
    (stored,) = tmp_path.glob("result-*.pt")
    os.utime(stored, (1_000_000, 1_000_000))  # finished long ago: before a teacher started a fresh class board
    second = run(CONFIG, on_event=events.append, cache=TeacherCache(tmp_path), results=ResultCache(tmp_path))
    assert stored.stat().st_mtime > 1_000_000  # served now: the class board shows it again
    assert (first.from_results_cache, second.from_results_cache) == (False, True)
    assert second.to_json() == {**first.to_json(), "teacher_from_cache": True}
    assert {e.phase for e in events} == {"teacher", "student", "baseline"}  # the curves are replayed
    for phase in ("teacher", "student", "baseline"):
        for name, tensor in first.models[phase].state_dict().items():
            assert torch.equal(second.models[phase].state_dict()[name], tensor)
    other = run(CONFIG.replace(temperature=2.0), cache=TeacherCache(tmp_path), results=results)
    assert not other.from_results_cache  # a different request trains


def test_corrupt_result_file_is_removed_and_rebuilt(tmp_path):
    from kd_core import ResultCache

    first = run(CONFIG, cache=TeacherCache(tmp_path), results=ResultCache(tmp_path))
    (path,) = tmp_path.glob("result-*.pt")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="corrupt"):
        again = run(CONFIG, cache=TeacherCache(tmp_path), results=ResultCache(tmp_path))
    assert not again.from_results_cache and again.student == first.student
    assert run(CONFIG, cache=TeacherCache(tmp_path), results=ResultCache(tmp_path)).from_results_cache
