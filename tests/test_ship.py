"""Shipping a run (kd_core.deploy): each model as a self-contained FP32 and int8 ONNX file whose reported accuracy a
fresh onnxruntime session gives back to the image, sizes that are the files' bytes, MACs against a hand formula,
calibration on training images only, and bad input refused in one line with nothing left on disk."""

from __future__ import annotations

import dataclasses
import errno
import math
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from kd_core import (
    DeployError,
    RunConfig,
    RunResult,
    TeacherCache,
    build_model,
    count_macs,
    count_params,
    onnx_bytes,
    run,
    ship,
    ship_seeds,
    summarize,
)
from kd_core.deploy import quantize as quantize_module
from kd_core.deploy import ship as ship_module
from kd_core.deploy.quantize import CALIBRATION_IMAGES, calibration_indices
from kd_core.runs.setup import load as load_run_data

FAST = dict(rounds=2, images_per_round=16)  # timings short enough for a test; the figures are not checked here


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return TeacherCache(str(tmp_path_factory.mktemp("ship-cache")))


@pytest.fixture(scope="module")
def mlp_run(cache):
    """The digits defaults (MLPs: dynamic int8), one epoch each."""
    return run(RunConfig(teacher_epochs=1, epochs=1), cache=cache)


@pytest.fixture(scope="module")
def cnn_run(cache):
    """CNNs on digits (static QDQ int8, calibrated), one epoch each."""
    return run(RunConfig(teacher="cnn-large", student="cnn-small", teacher_epochs=1, epochs=1), cache=cache)


@pytest.fixture(scope="module")
def shipped(mlp_run, cnn_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("shipped")
    return {
        "mlp": ship(mlp_run, folder / "mlp", **FAST),
        "cnn": ship(cnn_run, folder / "cnn", **FAST),
    }


def _dataset(result: RunResult):
    return load_run_data(result.config)[1]


def test_each_model_is_shipped_as_an_fp32_and_an_int8_file_named_by_model_and_format(shipped):
    for kind, deployment in shipped.items():
        names = sorted(os.listdir(deployment.folder))
        assert names == sorted(f"{m}-{f}.onnx" for m in ("teacher", "student", "baseline") for f in ("fp32", "int8"))
        schemes = {m.quantization for m in deployment.models if m.format == "int8"}
        assert schemes == ({"dynamic"} if kind == "mlp" else {"static-qdq"})
        assert deployment.calibration_images == (0 if kind == "mlp" else CALIBRATION_IMAGES)


def test_the_int8_file_in_a_fresh_session_gives_the_reported_accuracy_to_the_image(shipped, mlp_run):
    dataset = _dataset(mlp_run)
    x, y = dataset.x_test.numpy(), dataset.y_test.numpy()
    for deployment in shipped.values():
        for model in deployment.models:
            path = os.path.join(deployment.folder, model.file)
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])  # fresh, from the file
            (logits,) = session.run(None, {"images": x})
            correct = int((logits.argmax(1) == y).sum())
            assert (correct, len(y)) == (model.correct, model.images), model.file
            assert model.accuracy == correct / len(y)


def test_files_stand_alone_and_their_sizes_are_their_bytes(shipped, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # far from the files: a second weights file would not be found
    for deployment in shipped.values():
        for model in deployment.models:
            path = os.path.join(deployment.folder, model.file)
            assert model.bytes == os.path.getsize(path)
            proto = onnx.load(path, load_external_data=False)
            assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
            with open(path, "rb") as handle:
                ort.InferenceSession(handle.read(), providers=["CPUExecutionProvider"])
            meta = {p.key: p.value for p in proto.metadata_props}
            assert meta["kd-dashboard part"] == model.model


def test_int8_stays_close_to_fp32_and_the_records_are_plain_json(shipped):
    import json

    for deployment in shipped.values():
        for name in ("teacher", "student", "baseline"):
            fp32, int8 = deployment.get(name, "fp32"), deployment.get(name, "int8")
            assert fp32.agreement > 0.99  # the FP32 file predicts what the PyTorch model predicts
            assert int8.agreement > 0.9 and abs(int8.accuracy - fp32.accuracy) < 0.05
            assert int8.bytes < fp32.bytes and (int8.params, int8.macs) == (fp32.params, fp32.macs)
            assert [t.batch for t in int8.batch_curve] == [1, 8, 64, 256]
            assert int8.latency == int8.batch_curve[0].per_image
        data = json.loads(json.dumps(deployment.to_json()))
        assert {m["file"] for m in data["models"]} == set(os.listdir(deployment.folder))


def test_the_params_are_the_models_own(shipped, mlp_run, cnn_run):
    for run_, deployment in ((mlp_run, shipped["mlp"]), (cnn_run, shipped["cnn"])):
        for name, model in run_.models.items():
            assert deployment.get(name, "fp32").params == count_params(model)


def test_macs_match_the_hand_formula_for_an_mlp_and_a_cnn():
    mlp = build_model("mlp-large", (1, 8, 8), 10)  # 64 -> 256 -> 256 -> 10
    assert count_macs(onnx_bytes(mlp, torch.zeros(1, 1, 8, 8))) == 64 * 256 + 256 * 256 + 256 * 10
    cnn = build_model("cnn-large", (1, 28, 28), 10)  # conv 3x3 1->32 at 28x28, pool, conv 32->64 at 14x14, pool, FC
    conv1 = 32 * 28 * 28 * (1 * 3 * 3)
    conv2 = 64 * 14 * 14 * (32 * 3 * 3)
    fc = 64 * 7 * 7 * 128 + 128 * 10
    assert count_macs(onnx_bytes(cnn, torch.zeros(1, 1, 28, 28))) == conv1 + conv2 + fc
    small = build_model("cnn-small", (1, 8, 8), 10, width=4)  # conv 1->4 at 8x8, pool, linear 4*4*4 -> 10
    assert count_macs(onnx_bytes(small, torch.zeros(1, 1, 8, 8))) == 4 * 8 * 8 * 9 + 4 * 4 * 4 * 10


def test_calibration_sees_training_images_only(cnn_run, tmp_path, monkeypatch):
    """A spy on the calibration reader: what it yields is exactly the chosen training images, and none of it is a
    test image (the test images are shifted here so that no training image can equal one by chance)."""
    dataset = _dataset(cnn_run)
    poisoned = dataclasses.replace(dataset, x_test=dataset.x_test + 7.0)
    yielded = []

    class Spy(quantize_module.CalibrationReader):
        def get_next(self):
            batch = super().get_next()
            if batch is not None:
                yielded.append(next(iter(batch.values())).copy())
            return batch

    monkeypatch.setattr(quantize_module, "CalibrationReader", Spy)
    ship(cnn_run, tmp_path / "out", poisoned, **FAST)
    seen = np.unique(np.concatenate(yielded), axis=0)
    chosen = dataset.x_train[calibration_indices(len(dataset.x_train), seed=cnn_run.config.seed)].numpy()
    assert len(chosen) == CALIBRATION_IMAGES
    assert np.array_equal(seen, np.unique(chosen, axis=0))  # the chosen training images, every one of them
    test_rows = {row.tobytes() for row in poisoned.x_test.numpy()}
    assert not any(row.tobytes() in test_rows for row in np.concatenate(yielded))


def _nothing_left(parent, target) -> None:
    assert not target.exists()
    assert not [p.name for p in parent.iterdir() if p.name.startswith(f".{target.name}.")], "a staging folder stayed"


def test_a_folder_that_exists_and_is_not_empty_is_refused(mlp_run, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    with pytest.raises(DeployError, match=r"^folder .* exists and is not empty; name a new or empty folder$"):
        ship(mlp_run, target, **FAST)
    assert os.listdir(target) == ["mine.txt"]
    (target / "mine.txt").unlink()  # an empty folder is fine
    assert len(ship(mlp_run, target, **FAST).models) == 6


def test_a_run_with_no_models_yet_is_refused(mlp_run, tmp_path):
    empty = RunResult(mlp_run.config, "cancelled")
    with pytest.raises(DeployError, match=r"^this run has no trained models to ship yet \(status: cancelled\)$"):
        ship(empty, tmp_path / "out", _dataset(mlp_run))
    _nothing_left(tmp_path, tmp_path / "out")


class NoWeights(nn.Module):
    """A "model" with nothing onnxruntime can quantize: no MatMul, Gemm or Conv."""

    def forward(self, x):
        return torch.flatten(x, 1)[:, :10] * 2.0


def test_a_model_onnxruntime_cannot_quantize_is_refused_in_one_line(mlp_run, tmp_path, monkeypatch):
    odd = dataclasses.replace(mlp_run, models={**mlp_run.models, "student": NoWeights()})
    with pytest.raises(DeployError) as error:
        ship(odd, tmp_path / "out", **FAST)
    assert str(error.value).startswith("onnxruntime found nothing to quantize in the student")
    assert "\n" not in str(error.value)
    _nothing_left(tmp_path, tmp_path / "out")

    from onnxruntime import quantization

    def broken(*args, **kwargs):
        raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : unsupported op\nmore lines")

    monkeypatch.setattr(quantization, "quantize_dynamic", broken)
    with pytest.raises(DeployError, match=r"^onnxruntime could not quantize the teacher \(\[ONNXRuntimeError\]"):
        ship(mlp_run, tmp_path / "out", **FAST)
    _nothing_left(tmp_path, tmp_path / "out")


def test_a_full_disk_leaves_nothing_half_written(mlp_run, tmp_path, monkeypatch):
    written = []
    real = ship_module._write

    def fill_up(path, data):
        if written:  # the first file fits, the second does not
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        written.append(path)
        real(path, data)

    monkeypatch.setattr(ship_module, "_write", fill_up)
    with pytest.raises(DeployError) as error:
        ship(mlp_run, tmp_path / "out", **FAST)
    assert "No space left on device" in str(error.value) and "nothing was left there" in str(error.value)
    assert written and not written[0].exists()
    _nothing_left(tmp_path, tmp_path / "out")


def test_several_seeds_ship_a_subfolder_each_and_summarize(cache, tmp_path):
    runs = [run(RunConfig(teacher_epochs=1, epochs=1, seed=s, baseline=False), cache=cache) for s in (0, 1)]
    deployments = ship_seeds(runs, tmp_path / "out", **FAST)
    assert sorted(os.listdir(tmp_path / "out")) == ["seed-0", "seed-1"]
    assert [d.seed for d in deployments] == [0, 1]
    rows = summarize(deployments)
    assert [(r.model, r.format) for r in rows] == [(m, f) for m in ("teacher", "student") for f in ("fp32", "int8")]
    for row in rows:
        accuracy = row.figures["accuracy"]
        values = [d.get(row.model, row.format).accuracy for d in deployments]
        assert accuracy.n == 2 and math.isclose(accuracy.mean, sum(values) / 2)
        assert accuracy.low <= accuracy.mean <= accuracy.high


def test_a_run_with_an_onnx_teacher_of_ones_own_ships_it_as_it_came_and_quantized(mlp_run, cache, tmp_path):
    path = tmp_path / "mine.onnx"
    path.write_bytes(onnx_bytes(mlp_run.models["teacher"], torch.zeros(1, 1, 8, 8)))
    own = run(RunConfig(teacher=f"onnx:{path}", epochs=1), cache=cache)
    deployment = ship(own, tmp_path / "out", **FAST)
    teacher = deployment.get("teacher", "fp32")
    assert teacher.accuracy == pytest.approx(own.teacher.accuracy, abs=1e-6) and teacher.agreement == 1.0
    assert teacher.params == 85_002 and deployment.get("teacher", "int8").quantization == "dynamic"
