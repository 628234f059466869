"""The explorer's Qt-free maths, tested without a QApplication: nearest codes, posterior
ellipses in a view, per-dimension statistics and their figures' grids, the mixtures the
points are coloured by, the exported code table and the caption ranking's cache."""

from __future__ import annotations

import csv
import gc

import numpy as np
import pytest
import torch
from scipy.stats import norm

from latentexplorer.analysis import caption_ranking
from latentexplorer.analysis.code_table import codes_table, write_codes
from latentexplorer.analysis.dimensions import dimension_stats, manifold_codes, traversal_codes
from latentexplorer.analysis.neighbours import NearestCodes
from latentexplorer.analysis.posterior_shape import posterior_shape
from latentexplorer.analysis.projection import make_projection
from latentexplorer.analysis.view_mixtures import fit_mixtures


@pytest.fixture(scope="module")
def codes() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((500, 4)).astype(np.float32)


def test_nearest_codes_match_a_brute_force_search(codes):
    nearest = NearestCodes()
    z = np.array([0.3, -0.2, 1.0, 0.1], np.float32)
    order, dist = nearest(codes, z, k=5)
    brute = np.sqrt(((codes - z) ** 2).sum(axis=1))
    assert list(order) == list(np.argsort(brute)[:5])
    assert np.allclose(dist, np.sort(brute)[:5], atol=1e-5)
    # the item itself is excluded when asked (the neighbours of a selected item)
    (first,), _ = nearest(codes, codes[7], k=1)
    (other,), _ = nearest(codes, codes[7], k=1, exclude=7)
    assert first == 7 and other != 7
    # a new set of codes is not answered from the norms of the old one
    moved = codes + 10.0
    (near,), (d,) = nearest(moved, moved[3])
    assert near == 3 and d == pytest.approx(0.0, abs=1e-4)


def test_a_posterior_in_a_two_dimension_view_is_an_axis_aligned_ellipse(codes):
    projection = make_projection("dims", codes, (1, 2))
    mu = np.array([0.5, 1.0, -2.0, 0.0])
    logvar = np.log(np.array([9.0, 0.25, 4.0, 1.0]))  # σ = 3, 0.5, 2, 1
    shape = posterior_shape(projection, mu, logvar)
    assert np.allclose(shape.centre, [1.0, -2.0])
    half_widths = np.ptp(shape.one_sigma, axis=0) / 2
    assert np.allclose(half_widths, [0.5, 2.0], atol=0.01)  # σ of the dimensions shown
    assert np.allclose(np.ptp(shape.two_sigma, axis=0) / 2, [1.0, 4.0], atol=0.02)


def test_dimension_stats_order_by_kl_for_a_vae_and_by_variance_for_an_ae():
    rng = np.random.default_rng(1)
    mu = np.stack([0.1 * rng.standard_normal(400), 2.0 * rng.standard_normal(400),
                   rng.standard_normal(400)], axis=1)
    logvar = np.log(np.full_like(mu, 0.5))
    vae = dimension_stats(mu, logvar, variational=True)
    kl = (0.5 * (mu**2 + 0.5 - 1 - np.log(0.5))).mean(axis=0)
    assert np.allclose(vae.kl, kl) and list(vae.order) == [1, 2, 0]
    assert list(vae.active) == [False, True, True]  # Var(μ) above 0.01
    assert np.all(vae.low == -3) and np.all(vae.high == 3)  # ±3 prior σ
    ae = dimension_stats(mu, np.zeros_like(mu), variational=False)
    assert ae.kl is None and list(ae.order) == [1, 2, 0]
    assert np.allclose(ae.high - ae.low, 6 * mu.std(axis=0))  # ±3 code σ around the mean


def test_a_traversal_sweeps_one_dimension_at_a_time_around_the_base():
    mu = np.random.default_rng(2).standard_normal((100, 3))
    stats = dimension_stats(mu, np.zeros_like(mu), variational=True)
    base = np.array([0.5, -0.5, 1.5])
    values, zs = traversal_codes(stats, base, [2, 0], steps=5)
    assert zs.shape == (2, 5, 3) and np.allclose(values, np.linspace(-3, 3, 5))
    assert np.allclose(zs[0, :, 2], values[0]) and np.allclose(zs[0, :, :2], base[:2])
    assert np.allclose(zs[1, :, 0], values[1]) and np.allclose(zs[1, :, 1:], base[1:])


def test_the_manifold_grid_holds_equal_prior_mass_per_cell():
    grid = manifold_codes(5)
    assert grid.shape == (25, 2)
    xs = grid[:5, 0]
    assert np.allclose(norm.cdf(xs), np.linspace(0.1, 0.9, 5))  # quantiles at cell centres
    assert np.all(np.diff(grid[::5, 1]) < 0)  # the top row first: y decreases down the rows


def test_the_view_mixtures_fit_k_components_or_choose_k_by_bic():
    rng = np.random.default_rng(3)
    centres = np.array([[-6.0, 0.0], [6.0, 0.0], [0.0, 8.0]])
    points = np.concatenate([c + rng.standard_normal((150, 2)) for c in centres])
    gmm, kmeans, bic = fit_mixtures(points, 2, auto_k=False)
    assert gmm.k == kmeans.k == 2 and bic == {}
    assert gmm.responsibilities.shape == (450, 2)
    assert np.allclose(gmm.responsibilities.sum(axis=1), 1.0)
    gmm, kmeans, bic = fit_mixtures(points, 2, auto_k=True, native_threads=1)
    assert gmm.k == 3 == kmeans.k and min(bic, key=bic.get) == 3


def test_the_code_table_writes_csv_and_npz(tmp_path):
    mu = np.arange(6, dtype=np.float32).reshape(3, 2)
    table = codes_table(mu, -mu, mu[:, ::-1], labels=np.array([4, 5, 6]))
    assert set(table) == {"mu", "logvar", "xy", "labels"}  # no responsibilities: none given
    rows = list(csv.reader(write_codes(table, tmp_path / "c.csv").open()))
    assert rows[0] == ["mu_0", "mu_1", "logvar_0", "logvar_1", "xy_0", "xy_1", "labels"]
    assert [float(v) for v in rows[2]] == [2, 3, -2, -3, 3, 2, 5]
    npz = np.load(write_codes(table, tmp_path / "c.data"))  # any other suffix becomes .npz
    assert np.array_equal(npz["labels"], [4, 5, 6]) and np.array_equal(npz["mu"], mu)


class _TextModel(torch.nn.Module):
    """Embeds a text as a constant vector: which model answered shows in the embeddings."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        return torch.full((len(texts), 3), self.value)


def test_caption_embeddings_are_cached_per_model_and_freed_with_it(monkeypatch):
    monkeypatch.setattr(caption_ranking, "candidate_captions", lambda: (["a", "b"], None))
    first, second = _TextModel(1.0), _TextModel(2.0)
    assert np.all(caption_ranking.candidate_embeddings(first)[1] == 1.0)
    assert np.all(caption_ranking.candidate_embeddings(second)[1] == 2.0)
    assert np.all(caption_ranking.candidate_embeddings(first)[1] == 1.0)  # both kept while alive
    # a freed model leaves nothing a new model could be answered with (an id can be reused)
    del first, second
    gc.collect()
    assert len(caption_ranking._candidates) == 0
