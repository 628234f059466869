"""scikit-learn's bundled 8×8 handwritten digits: a dataset that needs no download.

It ships inside scikit-learn, so the app always has one real dataset to train on,
even offline and on first start.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentexplorer.data.base import ImageSet


def _digits_table() -> tuple[np.ndarray, np.ndarray]:
    """(images N×8×8 in 0..16, targets): read from scikit-learn's own data file when it is
    there, so opening the bundled model does not import scikit-learn (~1 s before the app's
    first picture); otherwise through `sklearn.datasets.load_digits`."""
    import gzip
    from importlib.util import find_spec

    spec = find_spec("sklearn")  # locates the package without importing it
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt", encoding="utf-8") as file:
                table = np.loadtxt(file, delimiter=",")
            return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return np.asarray(bunch.images, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def load_digits() -> ImageSet:
    """The 1,797 digits as uint8 N×1×8×8 (grey levels 0..16 scaled by 255/16), labels 0-9."""
    pixels, targets = _digits_table()
    images = np.rint(pixels * (255.0 / 16.0))
    images = np.clip(images, 0, 255).astype(np.uint8)[:, None]
    return ImageSet(
        images=images,
        name="digits",
        labels=targets,
        class_names=tuple(str(d) for d in range(10)),
        meta={"source": "sklearn.datasets.load_digits"},
    )
