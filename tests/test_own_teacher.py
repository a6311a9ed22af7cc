"""A teacher of one's own: the Look closer tab's ONNX export loads back with the same logits, a state_dict loads
with weights_only (nothing else unpickled), shapes are checked against the data, and the report shows it."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
import torch

from dashboard.runs import exports
from kd_core import RunConfig, RunSetup, TeacherCache, predict_logits, run, validate
from kd_core.cli.train import main
from kd_core.config import ConfigError
from kd_core.data.datasets import load_dataset
from kd_core.models.architectures import build_model
from kd_core.models.own_teacher import OnnxTeacher, TeacherFileError, load

QUICK = ["--epochs", "1", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A digits teacher trained for 3 epochs, and its files as the page exports them."""
    folder = tmp_path_factory.mktemp("teacher")
    config = validate(RunConfig(teacher_epochs=3, epochs=1))
    setup = RunSetup(config)
    teacher = setup.teacher(TeacherCache(str(folder / "cache"))).model
    example = setup.dataset.x_test[:1]
    (folder / "t.onnx").write_bytes(exports.model_file(config.run_key(), "teacher", "onnx", teacher, example, config))
    (folder / "t.pt").write_bytes(exports.model_file(config.run_key(), "teacher", "pt", teacher, example, config))
    return folder, setup, teacher


def test_the_exported_onnx_gives_the_teachers_logits_back_to_1e_5(trained):
    """To 1e-5 of each logit's size (at least 1e-5): a trained teacher's logits reach ~27, where float32 steps are
    2e-6, and onnxruntime's GEMM sums in another order than torch's (measured: 1.1e-5 at 27)."""
    folder, setup, teacher = trained
    name = validate(RunConfig(teacher=f"onnx:{folder / 't.onnx'}")).teacher
    own = load(name, (1, 8, 8), 10)
    for x in (setup.dataset.x_train, setup.dataset.x_test):
        theirs, ours = predict_logits(own, x), predict_logits(teacher, x)
        assert ((theirs - ours).abs() <= 1e-5 * ours.abs().clamp(min=1)).all()
        assert torch.equal(theirs.argmax(1), ours.argmax(1))


def test_a_run_with_the_onnx_teacher_reports_its_test_accuracy(trained, tmp_path):
    folder, setup, teacher = trained
    result = run(RunConfig(teacher=f"onnx:{folder / 't.onnx'}", epochs=1), cache=TeacherCache(str(tmp_path)))
    assert result.status == "completed" and result.history[0].phase == "student"  # nothing trained for the teacher
    assert result.teacher.accuracy == setup.teacher_evaluation().accuracy
    assert not list(tmp_path.glob("teacher-*"))  # no teacher stored: the file is the teacher (its scratch baseline is)


def test_the_state_dict_finds_its_architecture_and_gives_the_same_logits(trained):
    folder, setup, teacher = trained
    config = validate(RunConfig(teacher=f"state:{folder / 't.pt'}"))
    assert config.teacher.startswith(f"state:{folder / 't.pt'};arch=mlp-large;sha=")
    own = load(config.teacher, (1, 8, 8), 10)
    assert torch.equal(predict_logits(own, setup.dataset.x_test), predict_logits(teacher, setup.dataset.x_test))


def test_a_different_file_is_a_different_teacher_key(trained, tmp_path):
    folder, *_ = trained
    other = build_model("mlp-large", (1, 8, 8), 10)
    torch.save(other.state_dict(), tmp_path / "t.pt")
    keys = {validate(RunConfig(teacher=f"state:{path}")).teacher_key() for path in (folder / "t.pt", tmp_path / "t.pt")}
    assert len(keys) == 2


class Exploit:
    """A pickle that runs code when unpickled: it would write a file."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_a_pickle_with_code_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"weight": Exploit(marker)}, tmp_path / "evil.pt")
    with pytest.raises(ConfigError, match="never unpickled here; save model.state_dict"):
        validate(RunConfig(teacher=f"state:{tmp_path / 'evil.pt'}"))
    assert not marker.exists()
    assert pickle  # the file really is a pickle that would run: loading it without weights_only creates the marker
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


def _onnx(tmp_path, shape, classes, name="m.onnx"):
    model = build_model("mlp-small", shape, classes)
    (tmp_path / name).write_bytes(exports.onnx_bytes(model, torch.zeros(1, *shape)))
    return tmp_path / name


@pytest.mark.parametrize(
    "shape, classes, message",
    [
        (
            (1, 28, 28),
            10,
            "the teacher file m.onnx takes input of shape (batch, 1, 28, 28), but this dataset's examples "
            "are (batch, 1, 8, 8)",
        ),
        (
            (1, 8, 8),
            3,
            "the teacher file m.onnx gives outputs of shape (batch, 3), but this dataset has 10 classes: "
            "a teacher gives one logit per class",
        ),
    ],
)
def test_onnx_shapes_are_checked_against_the_data(tmp_path, shape, classes, message):
    with pytest.raises(ConfigError) as error:
        validate(RunConfig(teacher=f"onnx:{_onnx(tmp_path, shape, classes)}"))
    assert str(error.value) == message


@pytest.mark.parametrize(
    "flag, content, arch, message",
    [
        ("--teacher-onnx", b"not onnx", [], "the teacher file f is not an ONNX model that onnxruntime can load ("),
        ("--teacher-state", b"not a zip", [], "the teacher file f is not a state_dict that can be loaded safely ("),
        (
            "--teacher-state",
            b"PK\x03\x04 truncated",
            [],
            "the teacher file f is not a state_dict that can be loaded safely (",
        ),
        (
            "--teacher-state",
            None,
            ["--teacher", "cnn-large"],
            "the teacher file f does not fit architecture 'cnn-large'",
        ),
        ("--teacher-onnx", None, ["--teacher", "mlp-large"], "--teacher-onnx is the teacher; leave out --teacher"),
    ],
)
def test_kd_train_bad_teachers_exit_2_with_one_line(tmp_path, capsys, flag, content, arch, message):
    path = tmp_path / "f"
    if content is None:
        torch.save(build_model("mlp-small", (1, 8, 8), 10).state_dict(), path)
    else:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as exit_:
        main([flag, str(path), *arch, *QUICK, "--json", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists()


def test_kd_train_distils_an_onnx_teacher(trained, tmp_path, capsys):
    folder, setup, _ = trained
    out = tmp_path / "r.json"
    assert main(["--teacher-onnx", str(folder / "t.onnx"), *QUICK, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["config"]["teacher"].startswith(f"onnx:{folder / 't.onnx'};sha=")
    assert data["teacher"]["accuracy"] == setup.teacher_evaluation().accuracy
    assert "teacher" in capsys.readouterr().out


def _default_export(model: torch.nn.Module, path, **kwargs) -> None:
    """``torch.onnx.export(model, args, path)`` as a user calls it: the default (dynamo) exporter, which writes the
    weights to a second file beside the model (``path.data``)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.zeros(1, 1, 8, 8),), path, verbose=False, **kwargs)


def test_an_onnx_teacher_with_a_fixed_batch_of_one_runs_row_by_row(tmp_path):
    model = build_model("mlp-small", (1, 8, 8), 10).eval()
    _default_export(model, tmp_path / "one.onnx", input_names=["x"])  # no dynamic_shapes: the batch is fixed at 1
    name = validate(RunConfig(teacher=f"onnx:{tmp_path / 'one.onnx'}")).teacher
    own = load(name, (1, 8, 8), 10)
    x = load_dataset("digits").x_test[:5]
    assert own.batch == 1 and torch.allclose(own(x), model(x), atol=1e-5)


# ---------------------------------------------------------------- weights in a second file (the default exporter)


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """The trained teacher through ``torch.onnx.export(model, args, path)``: t.onnx and its weights t.onnx.data."""
    folder = tmp_path_factory.mktemp("default-export")
    _, _, teacher = trained
    _default_export(copy.deepcopy(teacher), folder / "t.onnx")
    assert (folder / "t.onnx.data").is_file(), "the default exporter keeps the weights beside the model"
    return folder


def test_a_teacher_from_the_default_exporter_loads_with_its_weights_file_and_gives_the_same_logits(
    trained, exported, tmp_path, monkeypatch
):
    import onnxruntime as ort

    _, setup, teacher = trained
    with pytest.raises(Exception, match="External data path validation failed|model_path must not be empty"):
        monkeypatch.chdir(tmp_path)  # the bytes alone, far from the weights: what onnxruntime refused before
        ort.InferenceSession((exported / "t.onnx").read_bytes(), providers=["CPUExecutionProvider"])
    name = validate(RunConfig(teacher=f"onnx:{exported / 't.onnx'}")).teacher
    own = load(name, (1, 8, 8), 10)
    theirs, ours = predict_logits(own, setup.dataset.x_test), predict_logits(teacher, setup.dataset.x_test)
    assert ((theirs - ours).abs() <= 1e-5 * ours.abs().clamp(min=1)).all()
    assert own.weight_count == 85_002  # the weights were read, not left behind


def test_kd_train_distils_a_teacher_from_the_default_exporter(trained, exported, tmp_path):
    _, setup, _ = trained
    out = tmp_path / "r.json"
    assert main(["--teacher-onnx", str(exported / "t.onnx"), *QUICK, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["teacher"]["accuracy"] == setup.teacher_evaluation().accuracy


def test_the_teachers_hash_changes_with_its_weights_file(exported, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    name = validate(RunConfig(teacher=f"onnx:{folder / 't.onnx'}")).teacher
    other = build_model("mlp-large", (1, 8, 8), 10)  # the same shapes, other weights: a data file of the same size
    _default_export(other, tmp_path / "t.onnx")
    (folder / "t.onnx.data").write_bytes((tmp_path / "t.onnx.data").read_bytes())
    again = validate(RunConfig(teacher=f"onnx:{folder / 't.onnx'}")).teacher
    assert name != again and (folder / "t.onnx").read_bytes() == (exported / "t.onnx").read_bytes()
    with pytest.raises(TeacherFileError, match="changed since this run was set up"):
        load(name, (1, 8, 8), 10)


def _pointing_at(exported, folder, location: str):
    """A copy of the exported model whose weights' location is ``location``."""
    import onnx

    proto = onnx.load(str(exported / "t.onnx"), load_external_data=False)
    for tensor in proto.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(folder / "t.onnx"))
    return folder / "t.onnx"


def test_a_weights_file_outside_the_models_folder_is_never_read(exported, tmp_path, capsys):
    import shutil

    shutil.copy(exported / "t.onnx.data", tmp_path / "secret.data")
    for location in ("../secret.data", str(tmp_path / "secret.data")):
        path = _pointing_at(exported, tmp_path / "model", location)
        with pytest.raises(ConfigError, match="outside its own folder, which is never read; re-export it as one file"):
            validate(RunConfig(teacher=f"onnx:{path}"))
    (tmp_path / "model" / "link.data").symlink_to(tmp_path / "secret.data")  # a link that leads out
    path = _pointing_at(exported, tmp_path / "model", "link.data")
    with pytest.raises(ConfigError, match="keeps its weights in link.data, which is not beside it"):
        validate(RunConfig(teacher=f"onnx:{path}"))
    with pytest.raises(SystemExit) as exit_:  # missing: one line on how to re-export, exit 2
        main(["--teacher-onnx", str(_pointing_at(exported, tmp_path / "model", "gone.data")), *QUICK])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "keeps its weights in gone.data, which is not beside it" in err and "external_data=False" in err


def _zip(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    import io
    import stat
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def test_a_zip_of_the_model_and_its_weights_becomes_one_self_contained_model(trained, exported):
    from kd_core import onnx_from_zip

    _, setup, teacher = trained
    files = {"t.onnx": (exported / "t.onnx").read_bytes(), "t.onnx.data": (exported / "t.onnx.data").read_bytes()}
    for prefix in ("", "my teacher/"):  # zipping a folder adds one
        name, data = onnx_from_zip(_zip({prefix + k: v for k, v in files.items()}), max_bytes=10 * 2**20)
        assert name == "t.onnx"
        own = OnnxTeacher(data)  # from bytes alone
        theirs, ours = predict_logits(own, setup.dataset.x_test), predict_logits(teacher, setup.dataset.x_test)
        assert ((theirs - ours).abs() <= 1e-5 * ours.abs().clamp(min=1)).all()


@pytest.mark.parametrize(
    "members, links, limit, message",
    [
        ({"t.onnx": None, "../t.onnx.data": "data"}, (), 10, "a “zip slip”"),
        ({"t.onnx": None}, ("t.onnx.data",), 10, "holds links (shortcuts), which are never followed"),
        ({"t.onnx": None, "u.onnx": None, "t.onnx.data": "data"}, (), 10, "this zip holds 2 .onnx files"),
        ({"t.onnx.data": "data"}, (), 10, "this zip holds 0 .onnx files"),
        ({"t.onnx": None}, (), 10, "keeps its weights in t.onnx.data, which is not beside it"),
        ({"t.onnx": None, "t.onnx.data": "data"}, (), 0.1, "this zip unpacks to 0.3 MB, more than the 0.1 MB allowed"),
    ],
)
def test_a_bad_zip_is_refused_in_one_sentence(exported, members, links, limit, message):
    from kd_core import onnx_from_zip

    real = {"t.onnx": (exported / "t.onnx").read_bytes(), "data": (exported / "t.onnx.data").read_bytes()}
    files = {k: real["t.onnx"] if v is None else real[v] for k, v in members.items()}
    with pytest.raises(TeacherFileError) as error:
        onnx_from_zip(_zip(files, links), max_bytes=int(limit * 2**20))
    assert message in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(TeacherFileError, match="not a zip archive"):
        onnx_from_zip(b"not a zip", max_bytes=2**20)


def test_a_file_that_changed_is_refused(tmp_path):
    path = _onnx(tmp_path, (1, 8, 8), 10)
    name = validate(RunConfig(teacher=f"onnx:{path}")).teacher
    _onnx(tmp_path, (1, 8, 8), 10)  # new random weights
    with pytest.raises(TeacherFileError, match="changed since this run was set up"):
        load(name, (1, 8, 8), 10)


def test_the_pages_kd_train_line_and_files_for_an_onnx_teacher(trained, tmp_path, capsys, monkeypatch):
    folder, setup, _ = trained
    config = validate(RunConfig(teacher=f"onnx:{folder / 't.onnx'}", epochs=1, teacher_epochs=7))
    line = exports.command_line(config)
    digest = config.teacher.rsplit(";sha=", 1)[1]
    # The file by its name alone, to lie beside the command, with its hash: no server path, no teacher epochs.
    assert f"--teacher-onnx 't.onnx;sha={digest}'" in line and "--teacher " not in line
    assert str(folder) not in line and "--teacher-epochs" not in line
    assert exports.own_files(config) == [("teacher", "t.onnx")] and exports.own_hashes(config) == [digest]
    assert exports.file_name(config, "teacher", "onnx") == "kd-teacher-onnx-T4-seed0.onnx"
    teacher = load(config.teacher, (1, 8, 8), 10)
    assert (
        exports.model_file(config.run_key(), "teacher", "onnx", teacher, setup.dataset.x_test[:1], config)
        == (folder / "t.onnx").read_bytes()
    )  # the uploaded file back, unchanged
    import shlex

    argv = shlex.split(line)[1:] + ["--quiet", "--json", str(tmp_path / "r.json")]
    monkeypatch.chdir(folder)  # beside the file, as the page says
    assert main(argv) == 0  # the line runs
    (tmp_path / "t.onnx").write_bytes(
        exports.onnx_bytes(build_model("mlp-small", (1, 8, 8), 10), torch.zeros(1, 1, 8, 8))
    )
    monkeypatch.chdir(tmp_path)  # another file of the same name: its hash is not the run's, and kd-train says so
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and "changed since this run was set up" in capsys.readouterr().err


def test_an_onnx_teacher_counts_its_own_weights(trained, tmp_path):
    """The report's parameter count and size of an uploaded ONNX teacher: its initializers, not 0."""
    from kd_core import count_params, size_bytes
    from kd_core.models.own_teacher import file_weights, onnx_weights

    folder, setup, teacher = trained
    data = (folder / "t.onnx").read_bytes()
    assert onnx_weights(data) == (count_params(teacher), size_bytes(teacher))
    own = OnnxTeacher(data)
    assert count_params(own) == count_params(teacher) == 85_002 and size_bytes(own) == size_bytes(teacher)
    assert pickle.loads(pickle.dumps(own)).weight_count == 85_002  # to a worker process and back
    name = validate(RunConfig(teacher=f"onnx:{folder / 't.onnx'}")).teacher
    assert file_weights(name) == (85_002, 4 * 85_002)
    state = validate(RunConfig(teacher=f"state:{folder / 't.pt'}")).teacher
    assert file_weights(state) == (85_002, 4 * 85_002)
    result = run(RunConfig(teacher=name, epochs=1), cache=TeacherCache(str(tmp_path)))
    assert result.teacher.params == 85_002 and result.teacher.size_bytes == 4 * 85_002


def test_a_teacher_file_is_named_by_its_file_on_the_page():
    from kd_core.models.own_teacher import short_name

    assert short_name("mlp-large") == "mlp-large"
    assert short_name("onnx:/srv/up/ab/mine.onnx;sha=0123456789abcdef") == "your mine.onnx"
    assert short_name("state:/srv/t.pt;arch=cnn-large;sha=0123456789abcdef") == "your t.pt (cnn-large)"
    from dashboard.text import run_settings

    # With its short content hash, and never the folder it is kept in on the server.
    assert (
        run_settings.teacher_name("onnx:/srv/up/ab/mine.onnx;sha=0123456789abcdef") == "your mine.onnx (sha 01234567)"
    )
    assert run_settings.teacher_name("mlp-large") == "mlp-large"
    assert exports.command_line(RunConfig(teacher="state:/srv/t.pt;arch=cnn-large;sha=0123456789abcdef")) == (
        "kd-train --teacher-state 't.pt;arch=cnn-large;sha=0123456789abcdef'"
    )
