"""MNIST, Fashion-MNIST, KMNIST and CIFAR-10 from files the user already has.

Nothing is ever downloaded: the app may run offline or on a locked-down machine, so a
missing file is reported with the exact paths to put it at. The MNIST family is read by
`data.idx`; CIFAR-10 by torchvision, its raw arrays taken whole (`ds.data`, `ds.targets`):
iterating items would build 60,000 PIL images for nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentexplorer.data.base import ImageSet
from latentexplorer.data.idx import FilesNotFound, read_split
from latentexplorer.errors import DataError

TORCHVISION_SETS = ("mnist", "fashion-mnist", "kmnist", "cifar10")
_MNIST_CLASSES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
MNIST_CLASS_NAMES = {
    "mnist": ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
              "7 - seven", "8 - eight", "9 - nine"),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}
"""torchvision's class names, written out: reading the files no longer imports torchvision."""
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
    """The MNIST family from its IDX files (plain or .gz) by our own reader (`data.idx`), which
    names a missing or damaged file; torchvision only for its old `processed/*.pt` layout.

    The files may sit in `<root>/<Class>/raw` (torchvision's layout), or `root` may point at
    the class or raw folder; only the split asked for is needed."""
    class_folder = _MNIST_CLASSES[key]
    split = "train" if train else "test"
    processed = root / class_folder / "processed"
    legacy = all((processed / f).is_file() for f in ("training.pt", "test.pt"))
    try:
        images, labels = read_split(key, root, class_folder, split)
    except FilesNotFound:
        if not legacy:
            raise
        images, labels = _read_processed(key, root, train)
    return ImageSet(
        images=np.ascontiguousarray(images[:, None]),
        name=key,
        labels=labels,
        class_names=MNIST_CLASS_NAMES[key],
        meta={"root": str(root), "train": train},
    )


def _read_processed(key: str, root: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from torchvision's legacy `processed/training.pt` / `test.pt`."""
    from torchvision import datasets

    try:
        ds = getattr(datasets, _MNIST_CLASSES[key])(str(root), train=train, download=False)
        return ds.data.numpy(), ds.targets.numpy().astype(np.int64)
    except Exception as exc:  # torchvision reports damaged files with assorted exceptions
        folder = root / _MNIST_CLASSES[key] / "processed"
        raise DataError(f"{key} files in {folder} could not be read: {exc}") from exc


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
