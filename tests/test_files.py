"""kd_core.files: a file written whole or not at all, and an error as one line."""

from __future__ import annotations

import json

import pytest

from kd_core.files import one_line, write_atomic, write_json_atomic


def test_a_json_file_is_written_whole_in_a_new_folder(tmp_path):
    target = write_json_atomic({"a": [1, 2]}, tmp_path / "new" / "f.json", indent=2)
    assert json.loads(target.read_text()) == {"a": [1, 2]}
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]  # no temporary file left behind


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "f.json"
    write_json_atomic({"old": True}, target)

    def half(handle):
        handle.write('{"new": ')
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, half)
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_binary_writes(tmp_path):
    assert write_atomic(tmp_path / "b", lambda h: h.write(b"\x00\x01"), binary=True).read_bytes() == b"\x00\x01"


def test_an_error_in_one_line():
    assert one_line(ValueError("\n  first line\nsecond line\n")) == "first line"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(OSError("   ")) == "OSError"
