"""MNIST, Fashion-MNIST, KMNIST and CIFAR-10 from files the user already has.

torchvision reads them, but nothing is ever downloaded: the app may run offline
or on a locked-down machine, so a missing file is reported with the exact paths
to put it at. Raw arrays are taken whole (`ds.data`, `ds.targets`); iterating
items would build 60,000 PIL images for nothing.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from latentexplorer.data.base import ImageSet
from latentexplorer.errors import DataError

TORCHVISION_SETS = ("mnist", "fashion-mnist", "kmnist", "cifar10")
_MNIST_CLASSES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")


def load_torchvision(name: str, root: str | Path, train: bool = True) -> ImageSet:
    """One of TORCHVISION_SETS from `root` (the folder torchvision would download into)."""
    key = name.lower()
    if key not in TORCHVISION_SETS:
        raise DataError(f"unknown torchvision dataset {name!r}; choose one of {TORCHVISION_SETS}")
    root = Path(root).expanduser()
    if key == "cifar10":
        return _load_cifar10(root, train)
    return _load_mnist_like(key, root, train)


def _load_mnist_like(key: str, root: Path, train: bool) -> ImageSet:
    """The MNIST family: via torchvision when its layout is complete, else straight from IDX files.

    torchvision insists on all four unpacked files (train and test) under
    `<root>/<Class>/raw`; the fallback also accepts only the split asked for,
    `.gz` files as downloaded, and `root` pointing at the class or raw folder.
    """
    from torchvision import datasets

    cls = getattr(datasets, _MNIST_CLASSES[key])
    raw = root / cls.__name__ / "raw"
    processed = root / cls.__name__ / "processed"
    unpacked = [Path(url).stem for url, _ in cls.resources]  # "train-images-idx3-ubyte", …
    prefix = "train" if train else "t10k"
    wanted = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")

    if all((raw / f).is_file() for f in unpacked) or all(
        (processed / f).is_file() for f in (cls.training_file, cls.test_file)
    ):
        try:
            ds = cls(str(root), train=train, download=False)
            images = ds.data.numpy()
            labels = ds.targets.numpy().astype(np.int64)
        except Exception as exc:  # torchvision reports corrupt files with assorted exceptions
            raise DataError(f"{key} files in {raw} could not be read: {exc}") from exc
    else:
        found = _find_idx_files(root, cls.__name__, wanted)
        if found is None:
            raise DataError(
                f"{key} not found: expected {raw / wanted[0]} and {raw / wanted[1]} "
                "(each may also end in .gz); put the files there, nothing is downloaded"
            )
        images = _read_idx(found[0], ndim=3)
        labels = _read_idx(found[1], ndim=1).astype(np.int64)

    if len(images) != len(labels):
        raise DataError(f"{key} in {raw} has {len(images)} images but {len(labels)} labels")
    return ImageSet(
        images=np.ascontiguousarray(images[:, None]),
        name=key,
        labels=labels,
        class_names=tuple(str(c) for c in cls.classes),
        meta={"root": str(root), "train": train},
    )


def _find_idx_files(root: Path, class_folder: str, names: tuple[str, ...]) -> list[Path] | None:
    """The first candidate folder holding every file in `names` (plain or .gz), else None."""
    for folder in (root / class_folder / "raw", root / "raw", root):
        paths = []
        for name in names:
            plain, packed = folder / name, folder / f"{name}.gz"
            path = plain if plain.is_file() else packed if packed.is_file() else None
            if path is None:
                break
            paths.append(path)
        else:
            return paths
    return None


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes (big-endian header: 0, 0, type 0x08, ndim, then the dims)."""
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    header = 4 + 4 * ndim
    if len(data) < header or data[:3] != b"\x00\x00\x08" or data[3] != ndim:
        raise DataError(f"{path} is not an IDX file of {ndim}-D unsigned bytes")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(dims))
    if len(data) - header < count:
        raise DataError(f"{path} is truncated: header says {dims}, file is too short")
    # bytearray makes the array writable, which torch.from_numpy wants.
    return np.frombuffer(bytearray(data[header : header + count]), dtype=np.uint8).reshape(dims)


def _load_cifar10(root: Path, train: bool) -> ImageSet:
    """CIFAR-10 as uint8 N×3×32×32 (torchvision checks each file's checksum before unpickling)."""
    from torchvision import datasets

    if root.name == _CIFAR_FOLDER and not (root / _CIFAR_FOLDER).is_dir():
        root = root.parent  # the user pointed at the batches folder itself
    folder = root / _CIFAR_FOLDER
    missing = [f for f in _CIFAR_FILES if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"cifar10 not found: expected {folder}/ with data_batch_1..5, test_batch and "
            f"batches.meta (missing: {', '.join(missing)}); nothing is downloaded"
        )
    try:
        ds = datasets.CIFAR10(str(root), train=train, download=False)
    except Exception as exc:  # checksum mismatch → RuntimeError; other damage varies
        raise DataError(f"cifar10 files in {folder} are damaged or incomplete: {exc}") from exc
    images = np.ascontiguousarray(np.asarray(ds.data, dtype=np.uint8).transpose(0, 3, 1, 2))
    return ImageSet(
        images=images,
        name="cifar10",
        labels=np.asarray(ds.targets, dtype=np.int64),
        class_names=tuple(str(c) for c in ds.classes),
        meta={"root": str(root), "train": train},
    )
