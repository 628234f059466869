"""Data a notebook already holds, as an ImageSet: a tensor or array of images, a
`torch.utils.data.Dataset` of images or (image, label) pairs, or one of our dataset names.

The same layouts and value ranges as a .npz file are accepted (N×H×W, N×C×H×W, N×H×W×C;
[0, 1] or 0-255), checked the same way, so `le.show(model, x)` fails with a message naming
the cause, never with a shape error deep in the explorer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from latentexplorer.data.arrays import image_set_from_arrays
from latentexplorer.data.base import Factors, ImageSet
from latentexplorer.errors import DataError


def as_image_set(data: Any, labels: Any = None, factors: Any = None, name: str | None = None) -> ImageSet:
    """`data` as an ImageSet; `labels` (integers or strings, one per item) and `factors` (an
    N×F array, or a mapping of factor name → N values) replace the data's own."""
    from dataclasses import replace

    if isinstance(data, ImageSet):
        images = data
    elif isinstance(data, str):
        images = _named(data)
    elif _is_array(data):
        images = image_set_from_arrays(_numpy(data), name=name or "array", source="the array")
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        images = _from_dataset(data, name or type(data).__name__)
    else:
        raise DataError(f"cannot show {type(data).__name__} as images: give a tensor or array "
                        "(N×H×W or N×C×H×W), a torch Dataset of images or (image, label), or a "
                        "dataset name such as 'digits'")
    if labels is not None:
        codes, class_names = label_codes(labels, len(images))
        images = replace(images, labels=codes, class_names=class_names)
    if factors is not None:
        images = replace(images, factors=factor_table(factors, len(images)))
    return images


def label_codes(labels: Any, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer label codes and class names from integers or strings, one per item."""
    values = _numpy(labels).reshape(-1) if _is_array(labels) else np.asarray(list(labels))
    if len(values) != n:
        raise DataError(f"{len(values)} labels for {n} items (need one per item)")
    if np.issubdtype(values.dtype, np.floating) and np.array_equal(values, np.round(values)):
        values = values.astype(np.int64)
    if np.issubdtype(values.dtype, np.integer) and (len(values) == 0 or values.min() >= 0):
        count = int(values.max(initial=-1)) + 1
        return values.astype(np.int64), tuple(str(i) for i in range(count))
    if np.issubdtype(values.dtype, np.floating):
        raise DataError("labels must be classes (integers or strings); colour by continuous "
                        "values with colour_by(values) instead")
    names, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.astype(np.int64), tuple(str(v) for v in names)


def factor_table(factors: Any, n: int) -> Factors:
    """Ground-truth factors from an N×F array (named "factor 1", …) or {name: N values}."""
    if isinstance(factors, Mapping):
        names = tuple(str(k) for k in factors)
        columns = [_numpy(v).reshape(-1) if _is_array(v) else np.asarray(v) for v in factors.values()]
    else:
        table = _numpy(factors) if _is_array(factors) else np.asarray(factors)
        table = table.reshape(-1, 1) if table.ndim == 1 else table
        if table.ndim != 2:
            raise DataError(f"factors must be N×F, got shape {table.shape}")
        names = tuple(f"factor {j + 1}" for j in range(table.shape[1]))
        columns = list(table.T)
    indices, values = [], []
    for name, column in zip(names, columns):
        if len(column) != n:
            raise DataError(f"factor {name!r} has {len(column)} values for {n} items")
        levels, index = np.unique(column, return_inverse=True)
        indices.append(index)
        values.append(levels)
    return Factors(indices=np.stack(indices, axis=1).astype(np.int64), names=names, values=tuple(values))


def _named(name: str) -> ImageSet:
    from latentexplorer.config import DataConfig
    from latentexplorer.data import DATASETS, load_dataset

    if name.endswith((".npz", ".npy")):
        return load_dataset(DataConfig(name="npz", root=name))
    if name.lower() not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return load_dataset(DataConfig(name=name))


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or type(value).__module__.startswith("torch")


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    detach = getattr(value, "detach", None)
    if callable(detach):
        return detach().cpu().numpy()
    return np.asarray(value)


def _from_dataset(dataset: Any, name: str) -> ImageSet:
    """Every item of a map-style Dataset: an image (tensor, array or PIL image), or a tuple
    whose first element is the image and whose second, when a number, is the label."""
    n = len(dataset)
    if n == 0:
        raise DataError(f"the {name} Dataset is empty")
    images, labels = [], []
    for i in range(n):
        item = dataset[i]
        label = None
        if isinstance(item, (tuple, list)):
            if not item:
                raise DataError(f"item {i} of the {name} Dataset is an empty {type(item).__name__}")
            image = item[0]
            label = item[1] if len(item) > 1 else None
        else:
            image = item
        try:
            array = _numpy(image)
        except Exception as exc:
            raise DataError(f"item {i} of the {name} Dataset holds {type(image).__name__}, not an "
                            "image (expected a tensor, array or PIL image, or (image, label))") from exc
        if array.dtype == object or array.ndim not in (2, 3):
            raise DataError(f"item {i} of the {name} Dataset is {type(image).__name__} of shape "
                            f"{getattr(array, 'shape', '?')}; expected an image H×W or C×H×W, "
                            "or (image, label)")
        if images and array.shape != images[0].shape:
            raise DataError(f"item {i} of the {name} Dataset has shape {array.shape}, item 0 "
                            f"{images[0].shape}: every image must have the same shape")
        images.append(array)
        labels.append(_label(label, i, name))
    stacked = np.stack(images)
    known = [v for v in labels if v is not None]
    codes = np.asarray(labels, np.int64) if len(known) == n else None
    return image_set_from_arrays(stacked, codes, name=name, source=f"the {name} Dataset")


def _label(value: Any, i: int, name: str) -> int | None:
    if value is None:
        return None
    array = _numpy(value) if _is_array(value) else np.asarray(value)
    if array.size == 1 and np.issubdtype(array.dtype, np.integer):
        return int(array.reshape(()))
    if array.size == 1 and np.issubdtype(array.dtype, np.floating) and float(array) == round(float(array)):
        return int(array.reshape(()))
    return None  # a target that is not a class (a mask, a vector): shown without labels
