"""kd-bench end to end on a tiny budget, and the engine's speed settings leave every number as it was.

No test here asserts a wall time: timings belong to ``kd-bench``, not to the test suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest
import torch

from benchmarks.bench import PHASES, main
from kd_core.config import RunConfig, validate
from kd_core.methods.losses import cross_entropy
from kd_core.models.architectures import build_model
from kd_core.runs.cache import TeacherCache
from kd_core.runs.pipeline import run
from kd_core.train import loop as train
from kd_core.train.fastpaths import channels_last_conv_is_exact, training_forward
from kd_core.train.loop import FitOptions, TrainingData, fit, predict_logits

SHORT = dict(teacher_epochs=2, epochs=2)


def test_bench_main_writes_every_key(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(
        [
            "--batches",
            "1",
            "--warmup",
            "1",
            "--repeats",
            "1",
            "--cifar-size",
            "640",
            "384",
            "--data-dir",
            str(tmp_path),
            "--no-classroom",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report["machine"]) >= {"cpu", "cores", "torch"}
    assert report["matmul_gflops"] > 0
    for name in ("cifar", "digits"):
        assert set(report[name]) >= set(PHASES)
        for phase in PHASES:
            row = report[name][phase]
            assert row["engine"] > 0 and row["flop_limit"] > 0 and row["fraction_of_limit"] > 0
            if phase == "teacher_logits":
                assert "seed" not in row
            else:
                assert row["seed"] > 0 and row["ratio"] > 0
    assert report["cifar"]["data"].startswith("random")
    assert "| cifar | student distillation epoch |" in capsys.readouterr().out


def test_bench_rejects_bad_arguments():
    assert main(["--batches", "0"]) == 2
    assert main(["--datasets", "imagenet"]) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_bench_device_cuda_without_cuda_exits_2(capsys):
    assert main(["--device", "cuda", "--no-classroom"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "CUDA" in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_bench_device_cuda_reports_the_engine_on_cuda_next_to_the_cpu(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(
        [
            "--device",
            "cuda",
            "--batches",
            "1",
            "--warmup",
            "1",
            "--repeats",
            "1",
            "--cifar-size",
            "640",
            "384",
            "--data-dir",
            str(tmp_path),
            "--no-classroom",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert report["machine"]["cuda"]
    for name in ("cifar", "digits"):
        for phase in PHASES:
            row = report[name][phase]
            assert row["engine"] > 0 and row["cuda"] > 0
            assert ("cuda_ratio" in row) == ("seed" in row)
    assert "engine on CUDA img/s" in capsys.readouterr().out


def _short_run() -> dict:
    with tempfile.TemporaryDirectory() as folder:
        result = run(RunConfig(device="cpu", **SHORT), cache=TeacherCache(folder))
    out = result.to_json()
    out.pop("seconds")
    out["states"] = {k: {n: t.tolist() for n, t in m.state_dict().items()} for k, m in result.models.items()}
    return out


_CHILD = """
import json, sys, tempfile
from kd_core.runs.pipeline import run
from kd_core.runs.cache import TeacherCache
from kd_core.config import RunConfig
with tempfile.TemporaryDirectory() as folder:
    result = run(RunConfig(device="cpu", teacher_epochs=2, epochs=2), cache=TeacherCache(folder))
out = result.to_json(); out.pop("seconds")
out["states"] = {k: {n: t.tolist() for n, t in m.state_dict().items()} for k, m in result.models.items()}
json.dump(out, sys.stdout)
"""


@pytest.mark.slow
def test_allocator_tuning_changes_no_number():
    """The same short run with the allocator tuned (here) and untouched (a child with KD_NO_TUNING=1)."""
    env = {**os.environ, "KD_NO_TUNING": "1", "KD_CHANNELS_LAST": "0", "OMP_NUM_THREADS": str(torch.get_num_threads())}
    child = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True)
    untuned = json.loads(child.stdout)
    tuned = json.loads(json.dumps(_short_run()))
    assert tuned == untuned


def test_foreach_optimizers_change_no_number(monkeypatch):
    """The engine's foreach SGD/Adam give bit-identical results to the per-parameter loops they replaced."""
    for optimizer in ("adam", "sgd"):
        config = RunConfig(device="cpu", optimizer=optimizer, teacher_epochs=1, epochs=2)
        with tempfile.TemporaryDirectory() as folder:
            fast = run(config, cache=TeacherCache(folder))

        def loop_optimizer(model, config, extra=()):
            parameters = [*model.parameters(), *extra]
            if config.optimizer == "sgd":
                return torch.optim.SGD(parameters, lr=config.lr, momentum=0.9, foreach=False)
            return torch.optim.Adam(parameters, lr=config.lr, foreach=False)

        with monkeypatch.context() as patch:
            patch.setattr(train, "make_optimizer", loop_optimizer)
            with tempfile.TemporaryDirectory() as folder:
                slow = run(config, cache=TeacherCache(folder))
        assert fast.history == slow.history
        for phase in ("teacher", "student", "baseline"):
            assert getattr(fast, phase) == getattr(slow, phase)
            for a, b in zip(fast.models[phase].parameters(), slow.models[phase].parameters()):
                assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["seed-teacher", "seed-student"])
def test_channels_last_inference_is_exact_for_the_seed_nets(monkeypatch, name):
    """The opt-in layout (KD_CHANNELS_LAST=1) computes the seed nets' logits bit for bit where this CPU's
    channels-last convolution is exact (oneDNN's AVX-512 kernels), and to float rounding where it is not (AVX2)."""
    x = torch.randn(300, 3, 32, 32)
    torch.manual_seed(0)
    model = build_model(name, (3, 32, 32), 10)
    monkeypatch.setenv("KD_CHANNELS_LAST", "0")
    plain = predict_logits(model, x, batch_size=128)
    monkeypatch.setenv("KD_CHANNELS_LAST", "1")
    fast = predict_logits(model, x, batch_size=128)
    if channels_last_conv_is_exact(x[:128], model.conv1):
        assert torch.equal(plain, fast)
    else:
        torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("flag, expected", [("0", False), ("1", True), ("", True)])
def test_two_conv_cnns_train_channels_last_unless_told_not_to(monkeypatch, flag, expected):
    """fit hands a two-conv CNN channels-last batches by default (its fast layout) and NCHW ones with
    KD_CHANNELS_LAST=0; either way its weights are back in NCHW order when fit returns."""
    monkeypatch.setenv("KD_CHANNELS_LAST", flag)
    torch.manual_seed(0)
    model = build_model("cnn-large", (3, 8, 8), 10)
    layouts = []
    model.register_forward_pre_hook(
        lambda module, args: layouts.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    x, y = torch.randn(40, 3, 8, 8), torch.randint(0, 10, (40,))
    config = validate(RunConfig(dataset="digits", batch_size=16))
    fit(model, cross_entropy, TrainingData(x, y, (x, y)), FitOptions("teacher", config, 1))
    assert layouts[:3] == [expected] * 3
    assert all(p.is_contiguous() for p in model.parameters())


def test_channels_last_training_learns_what_nchw_training_learns(monkeypatch):
    """The default channels-last training of a two-conv CNN is the NCHW training up to float rounding: the same
    epoch losses and nearly the same logits after 20 small SGD steps (a layout mistake would differ by tenths).  Not
    bit for bit: the layouts sum in another order, and a ReLU or max-pool tie that tips the other way changes a
    gradient by more than the rounding."""
    data = torch.Generator().manual_seed(0)
    x, y = torch.randn(160, 1, 28, 28, generator=data), torch.randint(0, 10, (160,), generator=data)
    trained = {}
    for flag in ("0", ""):
        monkeypatch.setenv("KD_CHANNELS_LAST", flag)
        torch.manual_seed(0)
        model = build_model("cnn-dropout", (1, 28, 28), 10)
        config = validate(RunConfig(dataset="digits", batch_size=32, optimizer="sgd", lr=0.01))
        history = fit(model, cross_entropy, TrainingData(x, y, (x, y)), FitOptions("teacher", config, 4))
        trained[flag] = [row.loss for row in history], predict_logits(model, x)
    (nchw_losses, nchw_logits), (nhwc_losses, nhwc_logits) = trained["0"], trained[""]
    assert nhwc_losses == pytest.approx(nchw_losses, rel=1e-3)
    assert (nhwc_logits - nchw_logits).abs().mean() < 1e-3
    assert (nhwc_logits.argmax(1) == nchw_logits.argmax(1)).float().mean() >= 0.98


def test_a_two_conv_cnn_gives_the_same_logits_whatever_its_weights_layout():
    """predict_logits runs a two-conv CNN channels-last whether its weights are NCHW (loaded from the cache) or
    channels-last (mid-training): the same logits bit for bit, and the weights left as they were."""
    torch.manual_seed(0)
    model = build_model("cnn-dropout", (1, 28, 28), 10)
    x = torch.randn(300, 1, 28, 28)
    loaded = predict_logits(model, x)
    assert all(p.is_contiguous() for p in model.parameters())
    model.to(memory_format=torch.channels_last)
    training = predict_logits(model, x)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in model.parameters() if p.dim() == 4)
    assert torch.equal(loaded, training)


@pytest.mark.parametrize("name", ["seed-teacher", "mlp-large"])
def test_predict_logits_batch_size_changes_no_number(name):
    """predict_logits' cache-sized batches give the same logits as the 2048-row batches they replaced."""
    shape = (3, 32, 32) if name.startswith("seed") else (1, 8, 8)
    torch.manual_seed(0)
    model = build_model(name, shape, 10)
    x = torch.randn(2100, *shape)
    assert torch.equal(predict_logits(model, x), predict_logits(model, x, batch_size=2048))


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("name", ["seed-teacher", "seed-student"])
def test_convnet_computes_the_seeds_nets_bit_for_bit(name, threads):
    """models.ConvNet pools before its ReLU, and the trainer runs it through fastpaths.training_forward, i.e.
    conv_pool_relu (channels-last forward, NCHW backward); the seed's own TeacherNet/StudentNet (ReLU, then pool,
    plain NCHW) give the very same outputs, gradients and weights over SGD steps — full, short and one-image batches,
    blank images (tied windows) included."""
    from benchmarks import seed_reference as seed

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(threads)
        ours = build_model(name, (3, 32, 32), 10)
        theirs = seed.seed_net(ours)
        assert type(theirs).__name__ == ("TeacherNet" if name == "seed-teacher" else "StudentNet")
        assert training_forward(ours) is not ours  # the fast path, not ConvNet's plain forward
        sizes = [128, 128, 80, 37, 2, 1]
        x, y = torch.randn(sum(sizes), 3, 32, 32), torch.randint(0, 10, (sum(sizes),))
        x[::7] = 0.0  # every window of a blank image ties
        x[1::7] = -1.0
        opts = [torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) for m in (ours, theirs)]
        start = 0
        for size in sizes:
            batch = slice(start, start + size)
            start += size
            outputs = []
            for forward, model, opt in zip((training_forward(ours), theirs), (ours, theirs), opts):
                opt.zero_grad()
                out = forward(x[batch])
                torch.nn.functional.cross_entropy(out, y[batch]).backward()
                outputs.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
                opt.step()
            assert torch.equal(outputs[0][0], outputs[1][0]), size
            assert all(torch.equal(a, b) for a, b in zip(outputs[0][1], outputs[1][1])), size
        assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters()))
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_default_inference_layout_changes_no_logit(threads, monkeypatch):
    """predict_logits runs the one-conv ConvNets in channels-last by default: the same logits as plain NCHW batches,
    for every thread count tried, with a short last batch and a last batch of one image."""
    monkeypatch.setenv("KD_CHANNELS_LAST", "0")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for name, shape in (("seed-teacher", (3, 32, 32)), ("seed-student", (3, 32, 32)), ("cnn-small", (1, 28, 28))):
            torch.manual_seed(threads)
            model = build_model(name, shape, 10).eval()
            for rows in (2 * 256 + 37, 256 + 1, 2):
                x = torch.randn(rows, *shape)
                with torch.no_grad():
                    plain = torch.cat([model(x[i : i + 256]) for i in range(0, rows, 256)])
                assert torch.equal(predict_logits(model, x), plain), (name, rows)
    finally:
        torch.set_num_threads(before)
