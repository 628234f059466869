"""Data sources: every loader on small local or generated data, plus the dispatcher."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from latentexplorer.config import DataConfig
from latentexplorer.data import (
    DATASETS,
    ImageSet,
    describe,
    load_arrays,
    load_dataset,
    load_digits,
    load_folder,
    load_torchvision,
    make_sprites,
)
from latentexplorer.data import sprites as sprites_module
from latentexplorer.data.sprites import GRID_SHAPE, GRID_SIZE, grid_indices, render_sprites
from latentexplorer.errors import DataError

# ---------------------------------------------------------------- sprites


def _render_one(shape: int, scale: int, orientation: int, x: int, y: int, size: int = 32):
    return render_sprites(np.array([[shape, scale, orientation, x, y]]), size)[0, 0]


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    weights = image.astype(np.float64)
    rows, cols = np.indices(image.shape)
    return float((cols * weights).sum() / weights.sum()), float(
        (rows * weights).sum() / weights.sum()
    )


def test_sprites_shapes_dtypes_and_factor_ranges():
    data = make_sprites(300, size=32, seed=3)
    assert data.name == "sprites"
    assert data.images.shape == (300, 1, 32, 32) and data.images.dtype == np.uint8
    assert data.class_names == ("square", "ellipse", "heart")
    factors = data.factors
    assert factors.names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert factors.indices.shape == (300, 5) and np.issubdtype(factors.indices.dtype, np.integer)
    assert tuple(len(v) for v in factors.values) == (3, 6, 40, 32, 32) == GRID_SHAPE
    assert (factors.indices >= 0).all() and (factors.indices < np.array(GRID_SHAPE)).all()
    np.testing.assert_array_equal(data.labels, factors.indices[:, 0])
    _, scale, orientation, pos_x, pos_y = factors.values
    assert scale[0] == pytest.approx(0.5) and scale[-1] == pytest.approx(1.0)
    assert orientation[0] == 0 and orientation[-1] == pytest.approx(2 * np.pi)
    assert pos_x[0] == 0 and pos_x[-1] == 1 and np.array_equal(pos_x, pos_y)
    # Uniform draws reach every shape, and every image shows a bright shape on black.
    assert set(np.unique(data.labels)) == {0, 1, 2}
    assert data.images.reshape(300, -1).max(axis=1).min() == 255
    assert data.images.reshape(300, -1).min(axis=1).max() == 0


def test_sprites_seeded_reproducibility():
    a, b = make_sprites(64, size=16, seed=7), make_sprites(64, size=16, seed=7)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.factors.indices, b.factors.indices)
    c = make_sprites(64, size=16, seed=8)
    assert not np.array_equal(a.factors.indices, c.factors.indices)


def test_sprites_stay_inside_the_image_at_extreme_positions():
    # The widest case: largest square at 45° (orientation index 5 ≈ 46°), in every corner.
    corners = [(x, y) for x in (0, 31) for y in (0, 31)]
    for size in (16, 32):
        items = np.array(
            [[s, 5, o, x, y] for s in range(3) for o in (0, 5, 25) for x, y in corners]
        )
        images = render_sprites(items, size)[:, 0]
        border = np.concatenate(
            [images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1
        )
        assert border.max() == 0


def test_sprites_full_grid_order():
    indices = grid_indices()
    assert indices.shape == (GRID_SIZE, 5) and GRID_SIZE == 3 * 6 * 40 * 32 * 32 == 737_280
    # dSprites order: pos_y varies fastest, shape slowest.
    np.testing.assert_array_equal(indices[0], [0, 0, 0, 0, 0])
    np.testing.assert_array_equal(indices[1], [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(indices[32], [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(indices[-1], [2, 5, 39, 31, 31])
    flat = np.ravel_multi_index(tuple(indices.T), GRID_SHAPE)
    np.testing.assert_array_equal(flat, np.arange(GRID_SIZE))
    np.testing.assert_array_equal(grid_indices(100, 105), indices[100:105])


def test_sprites_full_uses_the_whole_grid(monkeypatch):
    # Rendering all 737,280 images takes seconds; the wiring is what is checked here.
    def fake_render(indices, size):
        return np.zeros((len(indices), 1, size, size), dtype=np.uint8)

    monkeypatch.setattr(sprites_module, "render_sprites", fake_render)
    data = make_sprites(n=10, size=16, full=True)
    assert len(data) == GRID_SIZE
    np.testing.assert_array_equal(data.factors.indices, grid_indices())
    np.testing.assert_array_equal(data.labels, np.repeat([0, 1, 2], GRID_SIZE // 3))


def test_sprites_rendering_matches_grid_items():
    items = grid_indices(12_345, 12_345 + 8)
    np.testing.assert_array_equal(render_sprites(items, 16)[3, 0], _render_one(*items[3], size=16))


def test_sprites_position_moves_the_centre_of_mass():
    for shape in range(3):
        xs = [_centre_of_mass(_render_one(shape, 3, 0, x, 16))[0] for x in (0, 8, 16, 24, 31)]
        ys = [_centre_of_mass(_render_one(shape, 3, 0, 16, y))[1] for y in (0, 8, 16, 24, 31)]
        assert np.all(np.diff(xs) > 1.0), xs  # right with pos_x
        assert np.all(np.diff(ys) > 1.0), ys  # down with pos_y (rows grow downwards)


def test_sprites_scale_lights_more_pixels():
    for shape in range(3):
        lit = [int(_render_one(shape, s, 7, 16, 16).sum()) for s in range(6)]
        assert np.all(np.diff(lit) > 0), lit


def test_sprites_orientation_rotates_the_ellipse():
    flat = _render_one(1, 5, 0, 16, 16).astype(int)
    upright = _render_one(1, 5, 10, 16, 16).astype(int)  # 10/39 of a turn ≈ 92°
    assert np.abs(flat - upright).sum() > 0.3 * flat.sum()
    # Like dSprites, orientation 0 and 2π are both in the grid and look the same.
    assert np.abs(flat - _render_one(1, 5, 39, 16, 16).astype(int)).max() <= 1
    width, height = (np.ptp(np.nonzero((flat > 127).any(axis=axis))[0]) for axis in (0, 1))
    assert width > height * 1.5


def test_sprites_heart_is_distinct_even_small():
    """At 16 px and the smallest scale, no square or ellipse pose reproduces a heart."""
    others = render_sprites(np.array([[s, 0, o, 16, 16] for s in (0, 1) for o in range(40)]), 16)[
        :, 0
    ].astype(float)
    for orientation in range(0, 40, 3):
        heart = _render_one(2, 0, orientation, 16, 16, size=16).astype(float)
        closest = np.abs(others - heart).sum(axis=(1, 2)).min()
        assert closest > 0.2 * heart.sum(), orientation


@pytest.mark.parametrize("size", [20, 64])
def test_sprites_any_size_from_16(size):
    data = make_sprites(10, size=size, seed=1)
    assert data.image_shape == (1, size, size)


def test_sprites_reject_small_images_and_bad_counts():
    with pytest.raises(DataError, match="16"):
        make_sprites(10, size=15)
    with pytest.raises(DataError, match="positive"):
        make_sprites(0)


# ---------------------------------------------------------------- digits


def test_digits():
    data = load_digits()
    assert data.name == "digits" and len(data) == 1797
    assert data.images.shape == (1797, 1, 8, 8) and data.images.dtype == np.uint8
    assert data.images.max() == 255 and data.images.min() == 0
    assert set(np.unique(data.labels)) == set(range(10))
    assert data.class_names == tuple("0123456789")


# ---------------------------------------------------------------- torchvision (fake files)


def _write_idx(path: Path, array: np.ndarray, packed: bool = False) -> None:
    """IDX: 0, 0, type 0x08 (unsigned byte), ndim, then big-endian uint32 dims and the bytes."""
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if packed:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def _fake_mnist(raw: Path, n: int = 6, splits=("train", "t10k"), packed: bool = False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.arange(n) % 10
    for split in splits:
        _write_idx(raw / f"{split}-images-idx3-ubyte", images, packed)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels, packed)
    return images, labels


def test_mnist_from_torchvision_layout(tmp_path):
    """Read by our IDX reader (data.idx, with its messages), as torchvision would read it."""
    import torchvision.datasets

    images, labels = _fake_mnist(tmp_path / "MNIST" / "raw")
    data = load_torchvision("mnist", tmp_path)
    assert data.name == "mnist" and data.images.shape == (6, 1, 28, 28)
    assert data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images[:, 0], images)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.class_names == tuple(torchvision.datasets.MNIST.classes)


def test_fashion_mnist_from_gz_train_files_only(tmp_path):
    import torchvision.datasets

    images, labels = _fake_mnist(tmp_path / "FashionMNIST" / "raw", splits=("train",), packed=True)
    data = load_torchvision("fashion-mnist", tmp_path)
    np.testing.assert_array_equal(data.images[:, 0], images)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.class_names == tuple(torchvision.datasets.FashionMNIST.classes)


def test_missing_mnist_names_folder_and_files(tmp_path):
    with pytest.raises(DataError) as info:
        load_torchvision("kmnist", tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "KMNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message


def test_missing_cifar10_names_folder_and_files(tmp_path):
    with pytest.raises(DataError) as info:
        load_torchvision("cifar10", tmp_path)
    message = str(info.value)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "data_batch_1..5" in message and "test_batch" in message


def test_corrupt_idx_file(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    _fake_mnist(raw, splits=("train",))
    (raw / "train-images-idx3-ubyte").write_bytes(b"not an idx file")
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_torchvision("mnist", tmp_path)


def test_unknown_torchvision_name(tmp_path):
    with pytest.raises(DataError, match="unknown"):
        load_torchvision("svhn", tmp_path)


# ---------------------------------------------------------------- image folders


def _write_png(path: Path, value: int, mode: str = "L", size: tuple[int, int] = (12, 10)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode == "L" else (value, 0, 255 - value) + ((255,) if mode == "RGBA" else ())
    Image.new(mode, size, colour).save(path)


def test_folder_with_class_subfolders(tmp_path):
    _write_png(tmp_path / "cats" / "a.png", 200)
    _write_png(tmp_path / "cats" / "b.PNG", 100, mode="RGB")
    _write_png(tmp_path / "dogs" / "nested" / "c.png", 50, mode="RGBA")
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    data = load_folder(tmp_path, size=8)
    assert data.images.shape == (3, 1, 8, 8) and data.images.dtype == np.uint8
    assert data.class_names == ("cats", "dogs")
    np.testing.assert_array_equal(data.labels, [0, 0, 1])
    assert data.images[0].min() == data.images[0].max() == 200

    rgb = load_folder(tmp_path, size=5, grayscale=False)
    assert rgb.images.shape == (3, 3, 5, 5)
    np.testing.assert_array_equal(rgb.images[1, :, 2, 2], [100, 0, 155])


def test_flat_folder_has_no_labels(tmp_path):
    for name in ("img0.png", "img1.jpg", "img2.bmp"):
        _write_png(tmp_path / name, 30)
    data = load_folder(tmp_path, size=6)
    assert len(data) == 3 and data.labels is None and data.class_names == ()
    assert data.name == tmp_path.name


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_folder(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no images"):
        load_folder(tmp_path)
    _write_png(tmp_path / "good.png", 10)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(DataError, match="broken.png"):
        load_folder(tmp_path)


# ---------------------------------------------------------------- .npz / .npy arrays


def test_arrays_layouts(tmp_path):
    rng = np.random.default_rng(0)
    nhw = rng.integers(0, 256, size=(5, 7, 9), dtype=np.uint8)
    np.savez(tmp_path / "nhw.npz", images=nhw, labels=np.arange(5))
    data = load_arrays(tmp_path / "nhw.npz")
    assert data.images.shape == (5, 1, 7, 9) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images[:, 0], nhw)
    np.testing.assert_array_equal(data.labels, np.arange(5))
    assert data.class_names == ("0", "1", "2", "3", "4") and data.name == "nhw"

    nhwc = rng.random((4, 6, 6, 3))
    np.savez(tmp_path / "nhwc.npz", x=nhwc, y=np.array([0, 1, 1, 0]))
    data = load_arrays(tmp_path / "nhwc.npz")
    assert data.images.shape == (4, 3, 6, 6) and data.images.dtype == np.float32
    np.testing.assert_allclose(data.images, nhwc.transpose(0, 3, 1, 2), rtol=1e-6)

    nchw = rng.integers(0, 256, size=(3, 1, 5, 5)).astype(np.float64)  # whole numbers 0..255
    np.savez(tmp_path / "nchw.npz", nchw)  # the only array, unnamed
    data = load_arrays(tmp_path / "nchw.npz")
    assert data.images.dtype == np.uint8 and data.labels is None
    np.testing.assert_array_equal(data.images, nchw.astype(np.uint8))

    np.save(tmp_path / "plain.npy", nhw)
    assert load_arrays(tmp_path / "plain.npy").images.shape == (5, 1, 7, 9)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"images": np.full((2, 4, 4), 2.5)}, "range from 0 to 2.5|from 2.5 to 2.5"),
        ({"images": np.full((2, 4, 4), -0.5)}, "-0.5"),
        ({"images": np.array([[[0.1, np.nan]]] * 2)}, "NaN"),
        ({"images": np.array([[[0.1, np.inf]]] * 2)}, "NaN or infinite"),
        ({"images": np.zeros((3, 4, 4)), "labels": np.arange(2)}, "labels for 3 images"),
        ({"images": np.zeros((2, 4, 4)), "labels": np.array([0.0, 1.0])}, "integers"),
        ({"images": np.zeros((2, 4, 4, 5))}, "neither 1 nor 3 channels"),
        ({"images": np.zeros((2, 4))}, "N×H×W"),
        ({"a": np.zeros((2, 4, 4)), "b": np.zeros((2, 4, 4))}, "name the images"),
    ],
)
def test_arrays_rejects_bad_content(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message):
        load_arrays(tmp_path / "bad.npz")


def test_arrays_refuse_pickles(tmp_path):
    objects = np.array([np.zeros((4, 4)), "text"], dtype=object)
    np.savez(tmp_path / "objects.npz", images=objects)
    with pytest.raises(DataError, match="pickle"):
        load_arrays(tmp_path / "objects.npz")
    np.save(tmp_path / "objects.npy", objects, allow_pickle=True)
    with pytest.raises(DataError, match="pickle"):
        load_arrays(tmp_path / "objects.npy")


def test_arrays_missing_or_not_numpy(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_arrays(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="junk.npz"):
        load_arrays(tmp_path / "junk.npz")


# ---------------------------------------------------------------- ImageSet split


def test_split_is_seeded_and_disjoint():
    n = 50
    data = ImageSet(images=np.zeros((n, 1, 4, 4), dtype=np.uint8), name="ids", labels=np.arange(n))
    train, val = data.split(0.2, seed=4)
    assert len(val) == 10 and len(train) == 40
    assert not set(train.labels) & set(val.labels)
    assert set(train.labels) | set(val.labels) == set(range(n))
    again_train, again_val = data.split(0.2, seed=4)
    np.testing.assert_array_equal(val.labels, again_val.labels)
    np.testing.assert_array_equal(train.labels, again_train.labels)
    assert not np.array_equal(val.labels, data.split(0.2, seed=5)[1].labels)


# ---------------------------------------------------------------- load_dataset / describe


def test_load_dataset_sprites_and_digits():
    sprites = load_dataset(DataConfig(name="sprites", n=40, size=16, seed=2))
    assert len(sprites) == 40 and sprites.image_shape == (1, 16, 16)
    np.testing.assert_array_equal(sprites.images, make_sprites(40, size=16, seed=2).images)

    digits = load_dataset(DataConfig(name="digits", n=100, seed=1))
    assert len(digits) == 100 and digits.name == "digits"
    same = load_dataset(DataConfig(name="digits", n=100, seed=1))
    np.testing.assert_array_equal(digits.labels, same.labels)
    np.testing.assert_array_equal(digits.images, same.images)
    other = load_dataset(DataConfig(name="digits", n=100, seed=2))
    assert not np.array_equal(digits.images, other.images)
    assert len(load_dataset(DataConfig(name="digits", n=5000))) == 1797


def test_load_dataset_from_roots(tmp_path):
    _fake_mnist(tmp_path / "MNIST" / "raw", n=12)
    mnist = load_dataset(DataConfig(name="mnist", root=str(tmp_path), n=5))
    assert len(mnist) == 5 and mnist.name == "mnist"

    np.savez(tmp_path / "set.npz", images=np.zeros((8, 4, 4), dtype=np.uint8))
    assert len(load_dataset(DataConfig(name="npz", root=str(tmp_path / "set.npz")))) == 8

    _write_png(tmp_path / "pics" / "a" / "1.png", 9)
    _write_png(tmp_path / "pics" / "b" / "2.png", 9)
    folder = load_dataset(DataConfig(name="folder", root=str(tmp_path / "pics"), size=10))
    assert folder.image_shape == (1, 10, 10) and folder.class_names == ("a", "b")


def test_load_dataset_errors():
    with pytest.raises(DataError, match="--data-root is required for mnist"):
        load_dataset(DataConfig(name="mnist"))
    for name in ("folder", "npz"):
        with pytest.raises(DataError, match=f"--data-root is required for {name}"):
            load_dataset(DataConfig(name=name))
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(name="imagenet"))
    assert all(name in str(info.value) for name in DATASETS)


def test_describe():
    text = describe(make_sprites(20, size=16))
    assert "\n" not in text
    assert text.startswith("sprites: 20 images 1×16×16 uint8")
    assert "3 classes" in text and "pos_x" in text
    flat = ImageSet(images=np.zeros((3, 3, 4, 4), dtype=np.float32), name="raw")
    assert "no labels" in describe(flat) and "3×4×4 float32" in describe(flat)


def test_random_bytes_are_not_called_pickles_but_real_pickles_are(tmp_path, run_cli):
    import pickle

    junk = tmp_path / "junk.npz"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match=r"is not a NumPy \.npz or \.npy file") as raised:
        load_arrays(junk)
    assert "pickle" not in str(raised.value)
    done = run_cli("train", "--dataset", "npz", "--data-root", str(junk), "--epochs", "1")
    assert done.returncode != 0 and "is not a NumPy .npz or .npy file" in done.stderr
    assert "pickle" not in done.stderr
    real = tmp_path / "images.npy"
    with open(real, "wb") as f:
        pickle.dump({"images": np.zeros((2, 4, 4))}, f)
    with pytest.raises(DataError, match="pickled Python objects"):
        load_arrays(real)
