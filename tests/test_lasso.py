"""The lasso's point-in-polygon test and the selection's export, without Qt."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from latentexplorer.analysis.lasso import (
    crossing_parity,
    inside_mask,
    points_in_polygon,
    write_selection,
)


def slow_inside(x: float, y: float, polygon: np.ndarray) -> bool:
    """The textbook even-odd ray cast, one point and one edge at a time."""
    inside = False
    n = len(polygon)
    for k in range(n):
        (ax, ay), (bx, by) = polygon[k], polygon[(k + 1) % n]
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def slow_points_in_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    if len(polygon) < 3:
        return np.zeros(0, np.int64)
    return np.array([i for i, (x, y) in enumerate(xy) if slow_inside(x, y, polygon)], np.int64)


def freehand(rng: np.random.Generator, n: int, centre=(0.0, 0.0), radius: float = 1.0,
             jitter: float = 0.05) -> np.ndarray:
    """A wobbly closed loop, as a hand draws one."""
    t = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = radius * (1 + 0.2 * np.sin(3 * t + rng.uniform(0, 6)) + jitter * rng.standard_normal(n))
    return np.stack([centre[0] + r * np.cos(t), centre[1] + r * np.sin(t)], axis=1)


def test_a_square_holds_the_points_inside_it():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    xy = np.array([[1, 1], [0.5, 1.9], [3, 1], [-0.1, 1], [1, 2.5], [1.99, 0.01]])
    np.testing.assert_array_equal(points_in_polygon(xy, square), [0, 1, 5])
    assert points_in_polygon(xy, square).dtype == np.int64


def test_a_concave_polygon_leaves_its_notch_out():
    # a U: the notch between the arms (x in 1…2, y above 1) is outside
    u = np.array([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3]], float)
    xy = np.array([[0.5, 2.5], [2.5, 2.5], [1.5, 2.0], [1.5, 0.5], [1.5, 1.5], [4, 1]])
    np.testing.assert_array_equal(points_in_polygon(xy, u), [0, 1, 3])


def test_a_self_intersecting_lasso_follows_the_even_odd_rule():
    # a five-pointed star drawn in one stroke: its centre pentagon is enclosed twice → out
    angles = np.pi / 2 + np.arange(5) * 4 * np.pi / 5
    star = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    tip = 0.9 * np.array([np.cos(np.pi / 2), np.sin(np.pi / 2)])
    xy = np.array([[0.0, 0.0], tip, [0.0, 0.05], [2.0, 2.0]])
    np.testing.assert_array_equal(points_in_polygon(xy, star), [1])
    # a bow tie: both of its triangles in, above and below its crossing out
    bow_tie = np.array([[0, 0], [2, 2], [2, 0], [0, 2]], float)
    xy = np.array([[0.3, 1.0], [1.7, 1.0], [1.0, 0.3], [1.0, 1.7]])
    np.testing.assert_array_equal(points_in_polygon(xy, bow_tie), [0, 1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_points_match_the_slow_reference(seed):
    rng = np.random.default_rng(seed)
    xy = rng.standard_normal((1500, 2))
    for polygon in (freehand(rng, 60), freehand(rng, 120, centre=(0.4, -0.3), radius=1.5, jitter=0.2),
                    rng.standard_normal((25, 2))):  # a random scribble, crossing itself often
        expected = slow_points_in_polygon(xy, polygon)
        np.testing.assert_array_equal(points_in_polygon(xy, polygon), expected)
        np.testing.assert_array_equal(np.flatnonzero(crossing_parity(xy[:, 0], xy[:, 1], polygon)), expected)
        assert 0 < len(expected) < len(xy)


def test_a_dense_cloud_goes_through_the_grid_and_stays_exact():
    """Enough points for a fine grid: most are decided by their cell, the rest exactly."""
    rng = np.random.default_rng(7)
    xy = rng.standard_normal((200_000, 2)).astype(np.float32)  # the view's dtype may be float32
    polygon = freehand(rng, 300, radius=1.2, jitter=0.03)
    got = points_in_polygon(xy, polygon)
    expected = np.flatnonzero(crossing_parity(xy[:, 0].astype(float), xy[:, 1].astype(float), polygon))
    np.testing.assert_array_equal(got, expected)
    assert 0.2 * len(xy) < len(got) < 0.8 * len(xy)


def test_points_on_a_grid_and_a_lasso_through_them_agree_with_the_reference():
    # points exactly on cell corners and on vertices' lines: the ties go the reference's way
    g = np.linspace(-1, 1, 41)
    xy = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    polygon = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [0.0, 0.0], [-0.5, 0.5]])
    np.testing.assert_array_equal(points_in_polygon(xy, polygon), slow_points_in_polygon(xy, polygon))


def test_fewer_than_three_vertices_or_no_area_select_nothing():
    xy = np.random.default_rng(0).standard_normal((500, 2))
    for polygon in (np.zeros((0, 2)), np.array([[0.0, 0.0]]), np.array([[0, 0], [1, 1]], float),
                    np.array([[0, 0], [1, 1], [2, 2]], float), np.array([[0, 0], [1, 0], [2, 0]], float),
                    np.array([[0, 0], [np.nan, 1], [1, 0]], float)):
        assert len(points_in_polygon(xy, polygon)) == 0
    assert inside_mask(np.zeros((0, 2)), np.array([[0, 0], [1, 0], [0, 1]], float)).shape == (0,)
    # points with NaN are never inside
    assert len(points_in_polygon(np.array([[np.nan, 0.1]]), np.array([[-1, -1], [1, -1], [0, 1]], float))) == 0


# --- export ---------------------------------------------------------------------------------


def test_a_selection_writes_csv_and_npz_rows_in_index_order(tmp_path):
    rng = np.random.default_rng(3)
    indices = np.array([4, 9, 17])
    mu, sigma = rng.standard_normal((3, 2)), rng.uniform(0.1, 1, (3, 2))
    labels = np.array([1, 0, 7])
    path = write_selection(tmp_path / "lasso.csv", indices, mu, sigma, labels)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["index", "label", "mu_0", "mu_1", "sigma_0", "sigma_1"]
    body = np.array(rows[1:], float)
    np.testing.assert_array_equal(body[:, 0], indices)
    np.testing.assert_array_equal(body[:, 1], labels)
    np.testing.assert_allclose(body[:, 2:4], mu, rtol=1e-12)
    np.testing.assert_allclose(body[:, 4:], sigma, rtol=1e-12)

    path = write_selection(tmp_path / "lasso.npz", indices, mu, sigma, labels)
    with np.load(path) as data:
        assert set(data.files) == {"indices", "labels", "mu", "sigma"}
        np.testing.assert_array_equal(data["indices"], indices)
        np.testing.assert_allclose(data["sigma"], sigma)


def test_a_selection_without_labels_has_no_label_column_and_odd_suffixes_become_npz(tmp_path):
    path = write_selection(tmp_path / "plain.csv", np.array([2]), np.ones((1, 3)), np.zeros((1, 3)))
    assert path.read_text().splitlines()[0] == "index,mu_0,mu_1,mu_2,sigma_0,sigma_1,sigma_2"
    path = write_selection(tmp_path / "chosen.txt", np.zeros(0, int), np.zeros((0, 3)), np.zeros((0, 3)))
    assert path.name == "chosen.npz"
    with np.load(path) as data:
        assert set(data.files) == {"indices", "mu", "sigma"} and data["mu"].shape == (0, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chosen.npz", "plain.csv"]  # no temp files
