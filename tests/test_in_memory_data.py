"""Data a notebook holds (`le.show(model, data)`): arrays and tensors in the usual layouts and
ranges, Datasets of images or (image, label), labels and factors given beside them; what does
not fit is refused with a message naming the cause."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentexplorer.data.in_memory import as_image_set
from latentexplorer.errors import DataError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("layout", ["NHW", "NCHW", "NHWC"])
def test_arrays_of_every_layout_become_n_c_h_w(layout):
    base = RNG.random((5, 1, 6, 7)).astype(np.float32)
    array = {"NHW": base[:, 0], "NCHW": base, "NHWC": base.transpose(0, 2, 3, 1)}[layout]
    images = as_image_set(array)
    assert images.image_shape == (1, 6, 7)
    np.testing.assert_array_equal(images.images, base)


def test_tensors_in_0_255_become_uint8_and_in_0_1_stay_float():
    pixels = torch.randint(0, 256, (4, 3, 5, 5))
    assert as_image_set(pixels.float()).images.dtype == np.uint8
    np.testing.assert_array_equal(as_image_set(pixels.float()).images, pixels.numpy())
    unit = torch.rand(4, 1, 5, 5)
    np.testing.assert_allclose(as_image_set(unit).images, unit.numpy())


def test_values_outside_both_ranges_are_refused_by_their_range():
    with pytest.raises(DataError, match="range from -1"):
        as_image_set(np.linspace(-1, 1, 2 * 16).reshape(2, 4, 4))


class PairDataset(torch.utils.data.Dataset):
    """As torchvision's datasets with ToTensor(): (C×H×W float tensor, int label)."""

    def __init__(self, n: int = 6) -> None:
        self.x = torch.rand(n, 1, 8, 8)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], i % 3


def test_a_dataset_of_image_label_pairs_gives_images_and_labels():
    dataset = PairDataset()
    images = as_image_set(dataset)
    np.testing.assert_allclose(images.images, dataset.x.numpy())
    np.testing.assert_array_equal(images.labels, [0, 1, 2, 0, 1, 2])
    assert images.name == "PairDataset"


def test_a_dataset_of_bare_images_has_no_labels():
    images = as_image_set([np.full((4, 4), i / 10, np.float32) for i in range(3)])
    assert len(images) == 3 and images.labels is None


def test_a_dataset_returning_something_else_is_named_in_the_message():
    class Dicts(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return {"image": torch.rand(1, 4, 4)}

    with pytest.raises(DataError, match="item 0 of the Dicts Dataset"):
        as_image_set(Dicts())


def test_images_of_different_shapes_in_a_dataset_are_refused():
    with pytest.raises(DataError, match="item 1 .* every image must have the same shape"):
        as_image_set([np.zeros((4, 4), np.float32), np.zeros((5, 5), np.float32)])


def test_string_labels_become_classes_and_factors_are_indexed():
    images = as_image_set(RNG.random((4, 3, 3)), labels=["cat", "dog", "cat", "eel"],
                          factors={"size": [1.0, 2.0, 1.0, 3.0]})
    assert images.class_names == ("cat", "dog", "eel")
    np.testing.assert_array_equal(images.labels, [0, 1, 0, 2])
    assert images.factors.names == ("size",)
    np.testing.assert_array_equal(images.factors.indices[:, 0], [0, 1, 0, 2])
    np.testing.assert_array_equal(images.factors.values[0], [1.0, 2.0, 3.0])


def test_labels_of_the_wrong_length_are_refused():
    with pytest.raises(DataError, match="3 labels for 4 items"):
        as_image_set(RNG.random((4, 3, 3)), labels=[0, 1, 2])


def test_a_dataset_name_loads_our_data():
    images = as_image_set("digits")
    assert images.image_shape == (1, 8, 8) and len(images) == 1797
    with pytest.raises(DataError, match="unknown dataset"):
        as_image_set("no-such-set")
