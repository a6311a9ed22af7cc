"""Data of one's own: folder:PATH and csv:PATH loaders, their bad inputs, the content hash in every key, and
kd-train's one-line errors (exit 2, nothing written)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from own_data_support import csv_text, image_folder, shape_image, write_image

from kd_core import RunConfig, validate
from kd_core.cli.train import main
from kd_core.config import ConfigError
from kd_core.data.custom import (
    IMAGE_SIZE,
    PIXEL_LIMITS,
    CustomDataError,
    PixelLimits,
    check_pixels,
    image_size,
    load,
    stratified_split,
)
from kd_core.data.datasets import DATASETS, load_dataset

QUICK = ["--teacher-epochs", "2", "--epochs", "1", "--quiet"]


def test_an_image_folder_loads_grey_resized_and_split_by_class(tmp_path):
    root = image_folder(tmp_path / "shapes")
    loaded = load(f"folder:{root}")
    data = loaded.dataset
    assert data.class_names == ("circle", "cross", "square")  # sorted, as ImageFolder does
    assert data.input_shape == (1, IMAGE_SIZE, IMAGE_SIZE)  # grey detected
    assert len(data.y_train) == 24 and len(data.y_test) == 6
    assert torch.bincount(data.y_test).tolist() == [2, 2, 2]  # stratified
    assert -1.0 <= float(data.x_train.min()) and float(data.x_train.max()) <= 1.0
    assert loaded.spec.teacher == "cnn-large" and loaded.spec.student == "cnn-small"
    assert data.name.startswith(f"folder:{root};sha=")
    assert loaded.notes == ("the 20×20 images were resized to 32×32",)


def test_colour_images_keep_three_channels(tmp_path):
    root = image_folder(tmp_path / "colour", colour=True, per_class=3)
    assert load(f"folder:{root}").dataset.input_shape == (3, IMAGE_SIZE, IMAGE_SIZE)


def test_train_and_test_subfolders_are_the_split(tmp_path):
    image_folder(tmp_path / "d" / "train", per_class=4)
    image_folder(tmp_path / "d" / "test", per_class=1)
    data = load(f"folder:{tmp_path / 'd'}").dataset
    assert (len(data.y_train), len(data.y_test)) == (12, 3)


def test_the_split_is_fixed_and_keeps_every_class_on_both_sides():
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
    train, test = stratified_split(labels)
    again = stratified_split(labels)
    assert train.tolist() == again[0].tolist() and test.tolist() == again[1].tolist()
    assert set(labels[train]) == set(labels[test]) == {0, 1, 2}
    assert sorted(train.tolist() + test.tolist()) == list(range(10))


def test_mixed_sizes_are_resized_and_reported(tmp_path):
    root = image_folder(tmp_path / "m", per_class=3)
    write_image(root / "circle" / "big.png", shape_image("circle", 64))
    loaded = load(f"folder:{root}")
    assert loaded.dataset.input_shape == (1, 32, 32)
    assert loaded.notes == ("the images came in 2 sizes (20×20, 64×64); all were resized to 32×32",)


def test_an_unreadable_image_is_skipped_and_counted(tmp_path):
    root = image_folder(tmp_path / "u", per_class=3)
    (root / "cross" / "broken.png").write_bytes(b"not an image at all")
    (root / "cross" / ".DS_Store").write_bytes(b"\0")  # hidden files are not data
    loaded = load(f"folder:{root}")
    assert len(loaded.dataset.y_train) + len(loaded.dataset.y_test) == 9
    assert loaded.notes[0] == "1 file could not be read as images and was skipped"


def _bmp_header(path, width: int, height: int) -> None:
    """A BMP file's headers alone (no pixels): its size is all PIL reads until the image is decoded."""
    import struct

    path.parent.mkdir(parents=True, exist_ok=True)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    path.write_bytes(b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + info)


def test_image_sizes_come_from_the_header_alone(tmp_path):
    _bmp_header(tmp_path / "huge.bmp", 60_000, 50_000)  # 3 gigapixels, 54 bytes on disk
    assert image_size(tmp_path / "huge.bmp") == (3_000_000_000, 1)  # over PIL's own bomb limit: its pixel count
    _bmp_header(tmp_path / "big.bmp", 5600, 5600)
    assert image_size(tmp_path / "big.bmp") == (5600, 5600)
    (tmp_path / "note.txt").write_text("not an image")
    assert image_size(tmp_path / "note.txt") is None
    assert image_size(lambda: (tmp_path / "big.bmp").open("rb")) == (5600, 5600)  # an opener (a zip member)


def test_a_folder_over_the_pixel_limits_is_refused_before_any_image_is_decoded(tmp_path, monkeypatch):
    from kd_core.data import custom

    root = image_folder(tmp_path / "p", per_class=3)
    _bmp_header(root / "circle" / "z-big.bmp", 5600, 5600)  # decoding it would fail: only its header exists
    decoded = []
    monkeypatch.setattr(custom, "_read_image", lambda path: decoded.append(path))
    with pytest.raises(CustomDataError) as error:
        load(f"folder:{root}", pixels=PixelLimits(16))
    assert str(error.value) == (
        "circle/z-big.bmp is 5600×5600 pixels (31.4 megapixels), more than the 16 megapixels an image may have "
        "here; shrink the images (each is resized to 32×32 anyway) and try again"
    )
    assert decoded == []
    with pytest.raises(CustomDataError) as error:
        load(f"folder:{root}", pixels=PixelLimits(40, total_megapixels=30))
    assert str(error.value) == (
        "the images in folder p add up to more than 30 megapixels, the most read at once here; use fewer or "
        "smaller images (each is resized to 32×32 anyway)"
    )
    assert decoded == [] and PIXEL_LIMITS == PixelLimits(50)  # kd-train's: one image at most, no total


def test_pil_decompression_bombs_are_refused_by_the_pixel_limit(tmp_path):
    _bmp_header(tmp_path / "bomb.bmp", 60_000, 50_000)
    with pytest.raises(CustomDataError, match=r"^bomb.bmp is 3000 megapixels, more than the 50 megapixels"):
        check_pixels([("bomb.bmp", tmp_path / "bomb.bmp")], PIXEL_LIMITS, "here")


def test_only_the_small_copy_of_each_image_is_kept(tmp_path):
    from kd_core.data import custom

    write_image(tmp_path / "a.png", shape_image("circle", 300, colour=True))
    write_image(tmp_path / "g.png", np.stack([shape_image("cross", 300)] * 3, axis=-1))  # RGB, equal channels
    small, size, grey = custom._read_image(tmp_path / "a.png")
    assert small.size == (IMAGE_SIZE, IMAGE_SIZE) and size == (300, 300) and not grey
    assert custom._read_image(tmp_path / "g.png")[2]  # grey, as before: the three channels are equal


def test_the_content_hash_changes_with_a_single_pixel(tmp_path):
    root = image_folder(tmp_path / "h", per_class=3)
    before = validate(RunConfig(dataset=f"folder:{root}"))
    pixels = shape_image("circle", 20)
    pixels[0, 0] = 1
    write_image(root / "circle" / "0.png", pixels)
    after = validate(RunConfig(dataset=f"folder:{root}"))
    assert before.dataset != after.dataset
    assert before.teacher_key() != after.teacher_key() and before.run_key() != after.run_key()
    with pytest.raises(ConfigError, match="changed since this run was set up"):
        validate(before)  # a worker holding the old name does not train on the new files


def test_a_csv_loads_standardised_with_the_last_column_as_label(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(csv_text())
    loaded = load(f"csv:{path}")
    data = loaded.dataset
    assert data.input_shape == (2,) and data.class_names == ("kind0", "kind1", "kind2")
    assert abs(float(data.x_train.mean())) < 1e-5 and (loaded.spec.teacher, loaded.spec.student) == (
        "mlp-large",
        "mlp-small",
    )
    assert DATASETS[data.name].num_classes == 3  # every DATASETS[config.dataset] works for it
    assert load_dataset(data.name) is data


def test_a_label_column_by_name(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("kind,a,b\n" + "\n".join(f"{i % 2},{i},{i * 2}" for i in range(10)) + "\n")
    data = load(f"csv:{path};label=kind").dataset
    assert data.input_shape == (2,) and data.class_names == ("0", "1")


def _folder_with(tmp_path, counts: dict[str, int]):
    (tmp_path / "bad").mkdir()
    for name, count in counts.items():
        (tmp_path / "bad" / name).mkdir(parents=True)
        for i in range(count):
            write_image(tmp_path / "bad" / name / f"{i}.png", shape_image("square"))
    return f"folder:{tmp_path / 'bad'}"


BAD_FOLDERS = [
    (
        {"cat": 3},
        "folder bad has only one class, 'cat', and a classifier needs at least two: add a second subfolder with "
        "images of another class",
    ),
    ({"cat": 3, "dog": 1}, "class 'dog' in folder bad has 1 example; every class needs at least 2"),
    ({}, "folder bad has no classes; put each class's examples in a subfolder named after the class"),
]


@pytest.mark.parametrize("counts, message", BAD_FOLDERS)
def test_bad_image_folders_say_why(tmp_path, counts, message):
    with pytest.raises(CustomDataError) as error:
        load(_folder_with(tmp_path, counts))
    assert str(error.value) == message


BAD_CSVS = [
    (
        "a,b,y\n1,2,x\n3,oops,y\n5,6,x\n7,8,y\n",
        "",
        "column 'b' of t.csv holds text ('oops') in row 3 of the file; every column except the label must hold numbers",
    ),
    (
        "a,b,y\n1,2,x\n3,,y\n5,6,x\n7,8,y\n",
        "",
        "column 'b' of t.csv is empty in row 3 of the file; every column except the label must hold numbers",
    ),
    ("a,b,y\n1,2,x\n3,4,y\n", ";label=kind", "t.csv has no column 'kind'; its columns are: a, b, y"),
    ("a,y\n" + "".join(f"{i},{i // 2}\n" for i in range(202)), "", "t.csv has 101 classes; at most 100 are allowed"),
    (
        "a,y\n1,x\n2,x\n",
        "",
        "t.csv has only one class, 'x', and a classifier needs at least two: add rows with another label in column 'y'",
    ),
    ("", "", "t.csv is not a CSV file that can be read (No columns to parse from file)"),
]


@pytest.mark.parametrize("text, label, message", BAD_CSVS)
def test_bad_csv_files_say_why(tmp_path, text, label, message):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(CustomDataError) as error:
        load(f"csv:{tmp_path / 't.csv'}{label}")
    assert str(error.value) == message


def test_more_than_100_image_classes_are_refused(tmp_path):
    with pytest.raises(CustomDataError, match="has 101 classes; at most 100 are allowed"):
        load(_folder_with(tmp_path, {f"c{i:03d}": 2 for i in range(101)}))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "folder:/no/such/folder"], "there is no folder /no/such/folder"),
        (["--dataset", "nonsense"], "unknown dataset 'nonsense'"),
        (["--dataset", "digits", "--label-column", "y"], "--label-column goes with --dataset csv:PATH"),
    ],
)
def test_kd_train_bad_arguments_exit_2_with_one_line(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, *QUICK, "--json", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("case", range(len(BAD_CSVS) - 1))
def test_kd_train_bad_csv_exits_2_and_writes_nothing(tmp_path, capsys, case, monkeypatch):
    text, label, message = BAD_CSVS[case]
    (tmp_path / "t.csv").write_text(text)
    monkeypatch.setenv("KD_CACHE_DIR", str(tmp_path / "cache"))
    extra = ["--label-column", label.split("=")[1]] if label else []
    with pytest.raises(SystemExit) as exit_:
        main(["--dataset", f"csv:{tmp_path / 't.csv'}", *extra, *QUICK, "--json", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err == f"kd-train: error: {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]  # no result, no cache folder


def test_kd_train_on_an_image_folder_reports_notes_and_the_hash(tmp_path, capsys):
    root = image_folder(tmp_path / "shapes", per_class=6)
    (root / "square" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    out = tmp_path / "r.json"
    assert main(["--dataset", f"folder:{root}", *QUICK, "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "kd-train: note: 1 file could not be read as images and was skipped" in captured.err
    config = json.loads(out.read_text())["config"]
    assert config["dataset"].startswith(f"folder:{root};sha=") and config["teacher"] == "cnn-large"


@pytest.mark.slow
def test_a_csv_dataset_flows_through_worker_processes(tmp_path, capsys):
    """Two seeds on two worker processes: each worker loads the data by its canonical name."""
    path = tmp_path / "t.csv"
    path.write_text(csv_text(rows=30))
    out = tmp_path / "r.json"
    assert main(["--dataset", f"csv:{path}", *QUICK, "--seeds", "2", "--jobs", "2", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["config"]["dataset"].startswith(f"csv:{path};sha=")
    assert [run["seed"] for run in data["runs"]] == [0, 1]
    assert all(run["teacher"]["accuracy"] > 0.5 for run in data["runs"])


def test_a_lesson_runs_on_data_of_ones_own(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text(csv_text(rows=60))
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "--lesson",
                "little-data",
                "--dataset",
                f"csv:{path}",
                "--label-column",
                "species",
                "--seeds",
                "1",
                *QUICK,
                "--json",
                str(out),
            ]
        )
        == 0
    )
    config = json.loads(out.read_text())["config"]
    assert config["dataset"].startswith(f"csv:{path};label=species;sha=") and config["student_fraction"] == 0.05
