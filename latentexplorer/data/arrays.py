"""Images from a NumPy `.npz` or `.npy` file, the simplest way to bring arrays from elsewhere.

Files are opened with `allow_pickle=False`: a pickled array can run arbitrary
code when loaded, and image data never needs it. Layouts and value ranges are
checked here so a wrong file fails with a message, not as a shape error mid-training.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from latentexplorer.data.base import ImageSet
from latentexplorer.errors import DataError

IMAGE_KEYS = ("images", "x", "X")
LABEL_KEYS = ("labels", "y", "Y")
CLASS_NAME_KEYS = ("class_names",)


def load_arrays(path: str | Path) -> ImageSet:
    """Images (N×H×W, N×H×W×C or N×C×H×W, C in 1 or 3) and optional integer labels.

    A `.npz` gives its images under `images` or `x` (or as its only array), labels
    under `labels` or `y`, and optionally `class_names` (strings). uint8 is kept;
    float must lie in [0, 1], or be whole numbers in [0, 255] (then stored as uint8).
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"array file {file} does not exist")
    try:
        loaded = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _load_error(file, exc) from exc

    labels = None
    class_names: tuple[str, ...] = ()
    if isinstance(loaded, np.ndarray):
        images = loaded
    else:
        with loaded:
            try:
                images, labels, names = _pick_arrays(file, loaded)
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                raise _load_error(file, exc) from exc
        if names is not None:
            class_names = tuple(str(c) for c in np.ravel(names))

    return image_set_from_arrays(images, labels, class_names, name=file.stem, source=str(file),
                                 meta={"root": str(file)})


def image_set_from_arrays(images: np.ndarray, labels: np.ndarray | None = None,
                          class_names: tuple[str, ...] = (), *, name: str = "arrays",
                          source: str = "the arrays", meta: dict | None = None) -> ImageSet:
    """An ImageSet from in-memory arrays, checked as a file's are: the same layouts and value
    ranges for a .npz and for `le.show(model, array)`; `source` names them in messages."""
    images = _to_nchw(source, np.asarray(images))
    images = _to_image_range(source, images)
    if labels is not None:
        labels = _check_labels(source, labels, len(images))
        needed = int(labels.max(initial=-1)) + 1
        if not class_names:
            class_names = tuple(str(i) for i in range(needed))
        elif len(class_names) < needed:
            raise DataError(f"{source}: {len(class_names)} class names for labels up to {needed - 1}")
    return ImageSet(
        images=images,
        name=name,
        labels=labels,
        class_names=class_names if labels is not None else (),
        meta=meta or {},
    )


NUMPY_MAGIC = (b"\x93NUMPY", b"PK\x03\x04")  # .npy, and .npz (a zip archive)
PICKLE_PROTOCOL_MARK = b"\x80"  # pickle protocols 2-5 start with PROTO


def _load_error(file: Path, exc: Exception) -> DataError:
    """NumPy reads anything without its magic as a pickle, so its "pickled data" error covers
    random bytes too: the file's first bytes tell a real pickle from a file that is not NumPy."""
    if "pickle" in str(exc).lower():
        with open(file, "rb") as f:
            head = f.read(8)
        if head.startswith(NUMPY_MAGIC):
            return DataError(
                f"{file} holds Python objects (pickled arrays), which are not loaded for safety; "
                "save plain numeric arrays instead"
            )
        if head.startswith(PICKLE_PROTOCOL_MARK) and len(head) > 1 and 2 <= head[1] <= 5:
            return DataError(
                f"{file} is a Python pickle, not NumPy arrays: pickled Python objects are never "
                "loaded (they can run code); save the images with numpy.savez or numpy.save"
            )
        return DataError(
            f"{file} is not a NumPy .npz or .npy file (it does not start as one); save the images "
            "with numpy.savez or numpy.save"
        )
    return DataError(f"cannot read {file} as a NumPy .npy/.npz file: {exc}")


def _pick_arrays(file: Path, npz: np.lib.npyio.NpzFile) -> tuple:
    """(images, labels or None, class names or None) from an open .npz."""
    keys = list(npz.files)
    image_key = next((k for k in IMAGE_KEYS if k in keys), None)
    if image_key is None:
        others = [k for k in keys if k not in LABEL_KEYS + CLASS_NAME_KEYS]
        if len(others) != 1:
            raise DataError(
                f"{file} has arrays {keys}; name the images 'images' or 'x' "
                "(and the labels 'labels' or 'y')"
            )
        image_key = others[0]
    label_key = next((k for k in LABEL_KEYS if k in keys), None)
    names_key = next((k for k in CLASS_NAME_KEYS if k in keys), None)
    return (
        npz[image_key],
        None if label_key is None else npz[label_key],
        None if names_key is None else npz[names_key],
    )


def _to_nchw(file: Path | str, images: np.ndarray) -> np.ndarray:
    """N×C×H×W from the common layouts; channels-first wins when both readings fit."""
    if images.ndim == 3:
        return images[:, None]
    if images.ndim == 4:
        if images.shape[1] in (1, 3):
            return images
        if images.shape[3] in (1, 3):
            return np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        raise DataError(
            f"{file}: images of shape {images.shape} have neither 1 nor 3 channels "
            "(expected N×H×W, N×H×W×C or N×C×H×W)"
        )
    raise DataError(f"{file}: images must be N×H×W, N×H×W×C or N×C×H×W, got shape {images.shape}")


def _to_image_range(file: Path | str, images: np.ndarray) -> np.ndarray:
    """uint8 as is; bool and small integers to uint8; float checked for range and finiteness."""
    if len(images) == 0:
        raise DataError(f"{file} holds no images")
    if images.dtype == np.uint8:
        return images
    if images.dtype == np.bool_:
        return images.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(images.dtype, np.integer):
        low, high = int(images.min()), int(images.max())
        if low < 0 or high > 255:
            raise DataError(f"{file}: integer images range from {low} to {high}, expected 0..255")
        return images.astype(np.uint8)
    if not np.issubdtype(images.dtype, np.floating):
        raise DataError(f"{file}: images must be numbers, got dtype {images.dtype}")
    if not np.isfinite(images).all():
        raise DataError(f"{file}: images contain NaN or infinite values")
    low, high = float(images.min()), float(images.max())
    if low >= 0.0 and high <= 1.0:
        return images.astype(np.float32, copy=False)
    if low >= 0.0 and high <= 255.0 and np.array_equal(images, np.round(images)):
        return images.astype(np.uint8)
    raise DataError(
        f"{file}: float images range from {low:g} to {high:g}; "
        "expected [0, 1] or whole numbers in [0, 255]"
    )


def _check_labels(file: Path | str, labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{file}: labels must be integers, got dtype {labels.dtype}")
    labels = labels.reshape(-1) if labels.ndim == 2 and 1 in labels.shape else labels
    if labels.ndim != 1 or len(labels) != n:
        raise DataError(f"{file}: {labels.shape} labels for {n} images (need one per image)")
    if len(labels) and labels.min() < 0:
        raise DataError(f"{file}: labels must be >= 0, found {int(labels.min())}")
    return labels.astype(np.int64)
