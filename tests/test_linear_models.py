"""PCA and factor analysis as latent models, checked against scikit-learn and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA, FactorAnalysis

from latentexplorer.checkpoint import load_run
from latentexplorer.cli import main
from latentexplorer.config import ModelConfig, RunConfig
from latentexplorer.data.digits import load_digits
from latentexplorer.errors import ConfigError
from latentexplorer.models import build_model, fit_linear_model, prior_log_prob
from latentexplorer.training.linear_fit import fit_linear_run


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def x(digits) -> torch.Tensor:
    return digits.float_batch()


@pytest.fixture(scope="module")
def flat(x) -> np.ndarray:
    return x.reshape(len(x), -1).double().numpy()


def _config(kind: str, d: int = 3) -> ModelConfig:
    return ModelConfig(kind=kind, image_shape=(1, 8, 8), latent_dim=d)


@pytest.fixture(scope="module")
def fa_pair(x, flat):
    return fit_linear_model(_config("fa"), x), FactorAnalysis(n_components=3, random_state=0).fit(flat)


def test_pca_encode_and_decode_equal_sklearns_transform_and_inverse(x, flat):
    model = fit_linear_model(_config("pca"), x)
    reference = PCA(n_components=3, random_state=0).fit(flat)
    posterior = model.encode(x.double())
    codes = reference.transform(flat)
    signs = np.sign((posterior.mu.numpy() * codes).sum(0))  # a component's sign is arbitrary
    assert np.all(signs == 1)
    np.testing.assert_allclose(posterior.mu.numpy(), codes, atol=1e-8)
    assert torch.all(posterior.logvar == float("-inf")), "a point posterior, like the autoencoder's"
    decoded = model.decode(torch.as_tensor(codes)).reshape(len(codes), -1).numpy()
    np.testing.assert_allclose(decoded, reference.inverse_transform(codes), atol=1e-8)
    np.testing.assert_allclose(model.explained_variance_ratio.numpy(), reference.explained_variance_ratio_)
    assert not model.config.is_variational
    assert "total" in model.summary()


def test_fa_posterior_mean_is_sklearns_transform_and_covariance_the_closed_form(x, flat, fa_pair):
    model, reference = fa_pair
    posterior = model.encode(x.double())
    np.testing.assert_allclose(posterior.mu.numpy(), reference.transform(flat), atol=1e-8)
    w = reference.components_.T  # D × d
    psi_inv = np.diag(1.0 / reference.noise_variance_)
    closed_form = np.linalg.inv(np.eye(3) + w.T @ psi_inv @ w)
    np.testing.assert_allclose(posterior.cov.numpy(), closed_form, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(posterior.logvar[0].numpy(), np.log(np.diag(closed_form)), rtol=1e-8)
    assert torch.equal(posterior.logvar[0], posterior.logvar[-1]), "the same covariance for every item"
    np.testing.assert_allclose(model.noise_variance.numpy(), reference.noise_variance_)


def test_fa_likelihood_of_the_mean_decode_gives_sklearns_marginal_log_likelihood(x, flat, fa_pair):
    """With the exact posterior, log p(x) = log p(x|m) + log p(m) − log q(m|x) at m = E[z|x]."""
    model, reference = fa_pair
    xd = x[:50].double()
    posterior = model.encode(xd)
    m = posterior.mu
    log_lik = model.log_likelihood(xd, model.decode(m))
    expected_lik = torch.distributions.Normal(
        model.decode(m).reshape(len(m), -1), model.noise_variance.sqrt()
    ).log_prob(xd.reshape(len(m), -1)).sum(-1)
    torch.testing.assert_close(log_lik, expected_lik)
    exact_q = torch.distributions.MultivariateNormal(m, covariance_matrix=posterior.cov)
    log_px = log_lik + prior_log_prob(m) - exact_q.log_prob(m)
    np.testing.assert_allclose(log_px.numpy(), reference.score_samples(flat[:50]), rtol=1e-6)


@pytest.mark.parametrize("kind", ["pca", "fa"])
def test_saved_run_loads_with_identical_codes(tmp_path, digits, x, kind):
    config = RunConfig(model=_config(kind, 2), name="linear")
    fit = fit_linear_run(config, tmp_path / kind, images=digits)
    assert fit.row["val_recon"] == pytest.approx(fit.row["val_recon"])  # finite, written
    loaded = load_run(tmp_path / kind)
    assert type(loaded.model) is type(fit.model)
    assert torch.equal(loaded.model.encode(x).mu, fit.model.encode(x).mu)
    assert torch.equal(loaded.model.mean(torch.zeros(1, 2)), fit.model.mean(torch.zeros(1, 2)))


def test_fitting_more_components_than_pixels_is_refused():
    with pytest.raises(ConfigError, match="at most 64"):
        build_model(ModelConfig(kind="pca", image_shape=(1, 8, 8), latent_dim=65))


def test_cli_train_fa_writes_a_run_the_explorer_opens(tmp_path, qapp, capsys):
    from latentexplorer.gui.state.session import Session

    out = tmp_path / "digits-fa"
    assert main(["train", "--model", "fa", "--dataset", "digits", "--latent-dim", "2", "--out", str(out)]) == 0
    assert "noise variance" in capsys.readouterr().out
    for name in ("config.json", "model.safetensors", "state.json", "history.csv"):
        assert (out / name).is_file()
    session = Session()
    assert session.open_run(out)
    assert session.opened.mu.shape == (1797, 2)
    assert "factor analysis" in session.describe() and "noise variance" in session.describe()
    session.shutdown()
    assert main(["train", "--resume", "--out", str(out)]) == 2
    assert "closed form" in capsys.readouterr().err


def test_evaluate_scores_a_pca_run_like_an_autoencoder(tmp_path, capsys):
    out = tmp_path / "pca"
    assert main(["train", "--model", "pca", "--dataset", "digits", "--latent-dim", "2", "--out", str(out)]) == 0
    assert main(["evaluate", str(out), "--json"]) == 0
    text = capsys.readouterr().out
    report = __import__("json").loads(text[text.index("{"):])
    assert report["variational"] is False and math.isfinite(report["recon"])
