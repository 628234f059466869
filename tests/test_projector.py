"""The Embedding Projector export: every file written is parsed back and checked against the
codes, the items and each other, as TensorBoard's projector and the standalone one read them."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentexplorer.analysis import projector as pj
from latentexplorer.bundled import bundled_run
from latentexplorer.data import ImageSet
from latentexplorer.data.base import Factors
from latentexplorer.errors import UserError


def parse_pbtxt(text: str) -> dict:
    """Protobuf text format (messages, scalars, repeated fields) as nested dicts of lists;
    enough for a ProjectorConfig, so the test needs no TensorBoard."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[{}:]|[^\s{}:"]+', text)
    position = 0

    def message() -> dict:
        nonlocal position
        fields: dict[str, list] = {}
        while position < len(tokens) and tokens[position] != "}":
            name = tokens[position]
            position += 1
            if tokens[position] == ":":
                value = tokens[position + 1]
                position += 2
                fields.setdefault(name, []).append(json.loads(value) if value.startswith('"') else int(value))
            else:
                assert tokens[position] == "{", f"expected {{ after {name}"
                position += 1
                fields.setdefault(name, []).append(message())
                assert tokens[position] == "}"
                position += 1
        return fields

    parsed = message()
    assert position == len(tokens), "unbalanced braces"
    return parsed


def read_metadata(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def small_set(n: int = 30, size: int = 6) -> tuple[ImageSet, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    images = ImageSet(
        images=rng.integers(0, 256, (n, 1, size, size), dtype=np.uint8), name="toy",
        labels=rng.integers(0, 3, n), class_names=("cat", "dog", "bird"),
        factors=Factors(indices=rng.integers(0, 2, (n, 2)), names=("size", "colour"),
                        values=(np.array([0.5, 1.5]), np.array(["red", "light blue"]))),
    )
    mu = rng.normal(size=(n, 4)).astype(np.float32) * 10
    return images, mu, rng.integers(0, 5, n)


def check_folder(folder: Path, mu: np.ndarray, n: int) -> tuple[dict, dict]:
    """The files agree with each other and with μ; returns the two configurations."""
    tensors = np.loadtxt(folder / pj.TENSORS, delimiter="\t", dtype=np.float32, ndmin=2)
    np.testing.assert_array_equal(tensors, mu)  # float text read back exactly, no header row
    pbtxt = parse_pbtxt((folder / pj.CONFIG_PBTXT).read_text())
    (embedding,) = pbtxt["embeddings"]
    assert embedding["tensor_path"] == [pj.TENSORS] and embedding["metadata_path"] == [pj.METADATA]
    assert embedding["tensor_shape"] == [n, mu.shape[1]]
    (sprite,) = embedding["sprite"]
    assert sprite["image_path"] == [pj.SPRITE]
    cell_w, cell_h = sprite["single_image_dim"]
    config = json.loads((folder / pj.CONFIG_JSON).read_text())
    (standalone,) = config["embeddings"]
    assert standalone == {"tensorName": embedding["tensor_name"][0], "tensorShape": [n, mu.shape[1]],
                          "tensorPath": pj.TENSORS, "metadataPath": pj.METADATA,
                          "sprite": {"imagePath": pj.SPRITE, "singleImageDim": [cell_w, cell_h]}}
    side = math.ceil(math.sqrt(n))
    with Image.open(folder / pj.SPRITE) as picture:
        assert picture.size == (side * cell_w, side * cell_h)
        assert max(picture.size) <= pj.SPRITE_MAX and max(cell_w, cell_h) <= pj.THUMBNAIL_MAX
    return embedding, standalone


def test_every_file_reads_back_as_the_codes_items_and_their_metadata(tmp_path):
    images, mu, assignment = small_set()
    written = pj.export_projector(tmp_path / "out", mu, images, assignment, tensor_name="toy run")
    folder = tmp_path / "out"
    assert written.notes == [] and np.array_equal(written.index, np.arange(30))
    embedding, _ = check_folder(folder, mu, 30)
    assert embedding["tensor_name"] == ["toy run"]

    header, rows = read_metadata(folder / pj.METADATA)
    assert header == ["item", "label", "gmm", "size", "colour"]
    assert len(rows) == 30 and all(len(row) == 5 for row in rows)
    assert [row[0] for row in rows] == [str(i) for i in range(30)]
    assert [row[1] for row in rows] == [images.class_names[v] for v in images.labels]
    assert [int(row[2]) for row in rows] == assignment.tolist()
    sizes, colours = images.factors.values
    assert [float(row[3]) for row in rows] == sizes[images.factors.indices[:, 0]].tolist()
    assert [row[4] for row in rows] == colours[images.factors.indices[:, 1]].tolist()

    # 6×6 images, enlarged ×10 (nearest) to 60×60 cells of a 6×6 grid, row by row
    assert written.cell == (60, 60)
    sprite = np.asarray(Image.open(folder / pj.SPRITE).convert("RGB"))
    for i in (0, 7, 29):
        r, c = divmod(i, 6)
        cell = sprite[r * 60:(r + 1) * 60, c * 60:(c + 1) * 60, 0]
        np.testing.assert_array_equal(cell, images.images[i, 0].repeat(10, 0).repeat(10, 1))
    assert not sprite[5 * 60:, 0:60].any()  # only 30 of the 36 cells hold an item: the rest is black


def test_above_the_cap_a_seeded_subset_is_written_and_said(tmp_path):
    images, mu, assignment = small_set(n=50)
    written = pj.export_projector(tmp_path, mu, images, assignment, max_items=12)
    again = pj.select_items(50, 12)
    assert np.array_equal(written.index, again) and len(again) == 12 and np.all(np.diff(again) > 0)
    check_folder(tmp_path, mu[again], 12)
    header, rows = read_metadata(tmp_path / pj.METADATA)
    assert [int(row[0]) for row in rows] == again.tolist()
    assert [int(row[2]) for row in rows] == assignment[again].tolist()
    assert "seeded random 12 of 50" in written.summary() and "12 of 50" in written.notes[0]


def test_one_metadata_column_has_no_header_and_cells_never_split():
    assert pj.metadata_tsv({"label": ["a", "b"]}) == "a\nb\n"
    assert pj.metadata_tsv({"label": ["a\tb", "c"], "gmm": ["1", "2"]}) == "label\tgmm\na b\t1\nc\t2\n"


@pytest.mark.parametrize("n, h, w", [(100_000, 28, 28), (1_000, 128, 96), (4, 8, 8), (70_000, 64, 64)])
def test_the_sprite_fits_8192_pixels_with_cells_of_at_most_64(n, h, w):
    side, cell_w, cell_h = pj.sprite_cell(n, h, w)
    assert side * side >= n and (side - 1) ** 2 < n
    assert max(cell_w, cell_h) <= pj.THUMBNAIL_MAX and side * max(cell_w, cell_h) <= pj.SPRITE_MAX
    assert abs(cell_w / cell_h - w / h) < 0.05  # the aspect ratio is kept


def test_strokes_are_drawn_as_the_app_shows_them(tmp_path):
    from latentexplorer.data.strokes import FACTOR_NAMES, make_strokes

    strokes = make_strokes(n=10)
    mu = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    written = pj.export_projector(tmp_path, mu, strokes)
    check_folder(tmp_path, mu, 10)
    assert written.cell == (64, 64)  # the drawing's size, not the T×F sequence's
    header, rows = read_metadata(tmp_path / pj.METADATA)
    assert header == ["item", "label", *FACTOR_NAMES] and len(rows) == 10
    sprite = np.asarray(Image.open(tmp_path / pj.SPRITE).convert("RGB"))
    assert sprite[:64, :64].std(axis=2).max() > 0  # coloured strokes, not grey


def test_a_folder_that_cannot_be_written_is_one_line(tmp_path):
    images, mu, _ = small_set(n=4)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot write to") as error:
        pj.export_projector(blocker, mu, images)
    assert "\n" not in str(error.value)


def test_cli_export_projector_writes_the_folder_of_a_run(tmp_path, run_cli):
    out = tmp_path / "projector"
    result = run_cli("export-projector", str(bundled_run("digits-vae-2d")), "--out", str(out), "--items", "200")
    assert result.returncode == 0, result.stderr
    assert "seeded random 200 of 1,797" in result.stdout and "tensorboard --logdir" in result.stdout
    header, rows = read_metadata(out / pj.METADATA)
    assert header == ["item", "label", "gmm"] and len(rows) == 200
    assert {int(row[2]) for row in rows} <= set(range(10))
    tensors = np.loadtxt(out / pj.TENSORS, delimiter="\t")
    assert tensors.shape == (200, 2)
    check_folder(out, tensors.astype(np.float32), 200)


@pytest.mark.parametrize("make_args, message", [
    (lambda tmp: ("/no/such/run", "--out", str(tmp / "o")), "run folder not found"),
    (lambda tmp: (str(bundled_run("digits-vae-2d")), "--out", str(tmp / "file")), "is not a folder"),
    (lambda tmp: (str(bundled_run("digits-vae-2d")), "--out", str(tmp / "o"), "--items", "0"), "--items"),
])
def test_cli_errors_are_one_line_and_status_2(tmp_path, run_cli, make_args, message):
    (tmp_path / "file").write_text("x")
    result = run_cli("export-projector", *make_args(tmp_path))
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
