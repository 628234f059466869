"""scikit-learn's bundled 8×8 handwritten digits: a dataset that needs no download.

It ships inside scikit-learn, so the app always has one real dataset to train on,
even offline and on first start.
"""

from __future__ import annotations

import numpy as np

from latentexplorer.data.base import ImageSet


def load_digits() -> ImageSet:
    """The 1,797 digits as uint8 N×1×8×8 (grey levels 0..16 scaled by 255/16), labels 0-9."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0))
    images = np.clip(images, 0, 255).astype(np.uint8)[:, None]
    return ImageSet(
        images=images,
        name="digits",
        labels=np.asarray(bunch.target, dtype=np.int64),
        class_names=tuple(str(d) for d in range(10)),
        meta={"source": "sklearn.datasets.load_digits"},
    )
