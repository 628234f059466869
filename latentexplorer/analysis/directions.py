"""Attribute vectors: directions in latent space from two groups of items.

Following Latent Space Cartography (Liu et al. 2019) and the "smile vector" of White (2016):
the difference between the mean codes of two groups (two labels, two values of a factor,
or two hand-picked selections) is a direction; adding a multiple of it to one item's code
moves that item from the first group's look towards the second's, and the decoded sweep
shows how much of the attribute the model has put on a straight line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentexplorer.data.base import ImageSet


@dataclass(frozen=True)
class Group:
    """A named set of items: a label class, a factor value, or a selection."""

    name: str
    members: np.ndarray  # item indices

    def __len__(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class AttributeVector:
    """mean(codes of `to`) − mean(codes of `from_`); `alpha` = 1 moves a code by exactly it."""

    from_: Group
    to: Group
    direction: np.ndarray

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.direction))

    def apply(self, z: np.ndarray, alpha: float) -> np.ndarray:
        return np.asarray(z, np.float64) + float(alpha) * self.direction

    def sweep(self, z: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        """Codes z + α·v for each α (len(alphas) × D), the path the decoded strip shows."""
        alphas = np.asarray(alphas, np.float64)
        return np.asarray(z, np.float64)[None] + alphas[:, None] * self.direction[None]


def attribute_vector(codes: np.ndarray, from_: Group, to: Group) -> AttributeVector:
    """The direction from one group's mean code to the other's. Empty groups are refused:
    a mean of nothing has no meaning, and a silent zero vector would look like "no effect"."""
    for group in (from_, to):
        if len(group) == 0:
            raise ValueError(f"group {group.name!r} has no items")
    codes = np.asarray(codes, np.float64)
    direction = codes[to.members].mean(axis=0) - codes[from_.members].mean(axis=0)
    return AttributeVector(from_, to, direction)


def label_groups(images: ImageSet) -> list[Group]:
    """One group per label class present in the data."""
    if images.labels is None:
        return []
    labels = np.asarray(images.labels)
    names = images.class_names
    groups = []
    for value in np.unique(labels):
        value = int(value)
        name = names[value] if value < len(names) else str(value)
        groups.append(Group(f"label {name}", np.flatnonzero(labels == value)))
    return groups


def factor_groups(images: ImageSet, max_values: int = 12) -> list[Group]:
    """One group per value of each ground-truth factor with at most `max_values` values
    (shape, scale…); finely sampled factors (positions) group their lowest and highest
    quarter instead, the two ends an attribute vector is usually drawn between. A factor that
    the labels already are (sprites' shape) is left to `label_groups`."""
    factors = images.factors
    if factors is None:
        return []
    groups = []
    for f, name in enumerate(factors.names):
        column = factors.indices[:, f]
        if images.labels is not None and np.array_equal(column, images.labels):
            continue  # the labels already group by this factor, with its class names
        values = factors.values[f]
        present = np.unique(column)
        if len(present) <= max_values:
            for index in present:
                groups.append(Group(f"{name} = {_value_text(values[int(index)])}", np.flatnonzero(column == index)))
        else:
            low, high = np.quantile(column, [0.25, 0.75])
            groups.append(Group(f"{name}: lowest quarter", np.flatnonzero(column <= low)))
            groups.append(Group(f"{name}: highest quarter", np.flatnonzero(column >= high)))
    return groups


def _value_text(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def box_members(xy: np.ndarray, corner_a: np.ndarray, corner_b: np.ndarray,
                visible: np.ndarray | None = None) -> np.ndarray:
    """Indices of the points of a 2-D view inside the axis-aligned box with two corners."""
    lo = np.minimum(corner_a, corner_b)
    hi = np.maximum(corner_a, corner_b)
    inside = np.all((xy >= lo) & (xy <= hi), axis=1)
    if visible is not None:
        inside &= visible
    return np.flatnonzero(inside)
