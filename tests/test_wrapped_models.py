"""A user's own VAE, written here as users write them (not with our classes), adapted by
`latentexplorer.wrap`: the PyTorch-examples VAE (flat input, probabilities out), a conv VAE
(image input, (mu, logvar), logits), an autoencoder (one tensor of codes); and each way a
model can fail to fit, named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import latentexplorer as le
from latentexplorer.analysis.evaluation import encode_all, iwae_curve
from latentexplorer.config import DataConfig
from latentexplorer.data import load_dataset
from latentexplorer.models import ModelError, WrappedModel

SHAPE = (1, 8, 8)  # scikit-learn's digits


class ExamplesVAE(nn.Module):
    """pytorch/examples vae/main.py, at 8×8: flat input, encode → (mu, logvar), probabilities out."""

    def __init__(self, pixels: int = 64, hidden: int = 32, latent: int = 3) -> None:
        super().__init__()
        self.fc1 = nn.Linear(pixels, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, pixels)
        self.pixels = pixels

    def encode(self, x):
        h1 = F.relu(self.fc1(x.view(-1, self.pixels)))
        return self.fc21(h1), self.fc22(h1)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))


class FlatOnlyVAE(ExamplesVAE):
    """The same network without the view: it reads N×(C·H·W) only."""

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)


class ConvVAE(nn.Module):
    """Image input, one tensor of 2·d out of the encoder, Bernoulli logits out of the decoder."""

    def __init__(self, latent: int = 2) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(8 * 4 * 4, 2 * latent))
        self.dec = nn.Sequential(nn.Linear(latent, 8 * 4 * 4), nn.ReLU(), nn.Unflatten(1, (8, 4, 4)),
                                 nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1))

    def encode(self, x):
        return self.enc(x)

    def decode(self, z):
        return self.dec(z)


class TinyAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.e = nn.Linear(64, 2)
        self.d = nn.Linear(2, 64)

    def encode(self, x):
        return self.e(x.flatten(1))

    def decode(self, z):
        return self.d(z).view(-1, 1, 8, 8)


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(name="digits"))


def batch(digits, n: int = 16) -> torch.Tensor:
    return digits.float_batch(np.arange(n))


def test_the_pytorch_examples_vae_is_read_flat_and_its_probabilities_kept(digits):
    torch.manual_seed(0)
    # its encode views any input as N×784, so images are read as they are ...
    assert le.wrap(ExamplesVAE(), image_shape=SHAPE).input_layout == "image"
    # ... and one that reads only flat rows gets them, and says so
    module = FlatOnlyVAE()
    model = le.wrap(module, image_shape=SHAPE)
    assert isinstance(model, WrappedModel) and model.latent_dim == 3
    assert model.input_layout == "flat" and model.output == "means"
    assert any("input: flat" in note for note in model.notes)
    assert le.wrap(FlatOnlyVAE(), image_shape=SHAPE, input="flat").input_layout == "flat"
    assert model.config.is_variational and model.config.image_shape == SHAPE
    x = batch(digits)
    posterior = model.encode(x)
    mu, logvar = module.encode(x.flatten(1))
    assert torch.allclose(posterior.mu, mu) and torch.allclose(posterior.logvar, logvar)
    # the image shown at z is the module's own decode, and log p(x|z) is its BCE
    z = torch.randn(5, 3)
    with torch.no_grad():  # exactly: probabilities are shown as returned, not through logits
        assert torch.equal(model.mean(z), module.decode(z).view(-1, *SHAPE))
        assert torch.allclose(model.mean(z), torch.sigmoid(model.decode(z)), atol=1e-6)
    recon = module.decode(mu)
    bce = F.binary_cross_entropy(recon, x.flatten(1), reduction="none").sum(1)
    assert torch.allclose(-model.log_likelihood(x, model.decode(mu)), bce, rtol=1e-4, atol=1e-3)


def test_a_conv_vae_with_one_tensor_of_two_d_and_logits(digits):
    torch.manual_seed(0)
    module = ConvVAE(latent=2)
    model = le.wrap(module, image_shape=SHAPE, latent_dim=2)
    assert model.input_layout == "image" and model.output == "logits" and model.latent_dim == 2
    x = batch(digits)
    out = module.encode(x)
    assert torch.allclose(model.encode(x).mu, out[:, :2]) and torch.allclose(model.encode(x).logvar, out[:, 2:])
    z = torch.randn(3, 2)
    assert torch.allclose(model.mean(z), torch.sigmoid(module.decode(z)))
    # without latent_dim: 2·d outputs whose decoder takes d are mu and logvar
    inferred = le.wrap(ConvVAE(latent=2), image_shape=SHAPE)
    assert inferred.latent_dim == 2 and inferred.config.is_variational
    assert any("mu and logvar" in note for note in inferred.notes)


def test_an_autoencoder_has_a_point_posterior_and_encodes_a_whole_set(digits):
    model = le.wrap(TinyAE(), image_shape=SHAPE, likelihood="gaussian")
    assert model.config.kind == "ae" and not model.config.is_variational
    assert model.output == "means"
    posterior = model.encode(batch(digits))
    assert torch.isneginf(posterior.logvar).all()  # zero variance, as our autoencoder
    mu, logvar = encode_all(model, digits)
    assert mu.shape == (len(digits), 2) and np.isfinite(mu).all()


def test_the_bounds_of_a_users_vae_are_evaluated_like_ours(digits):
    torch.manual_seed(0)
    model = le.wrap(ExamplesVAE(), image_shape=SHAPE)
    curve = iwae_curve(model, digits, (1, 10), n=50, seed=0)
    assert np.isfinite(curve.elbo) and curve.bound[1] >= curve.bound[0] - 0.5  # IWAE-10 ≥ ELBO
    assert curve.elbo == pytest.approx(curve.recon - curve.kl, abs=1e-3)  # E[log p(x|z)] − KL


class Broken(nn.Module):
    def __init__(self, encode=None, decode=None) -> None:
        super().__init__()
        self.layer = nn.Linear(64, 4)
        self._encode, self._decode = encode, decode

    def encode(self, x):
        return self._encode(self, x)

    def decode(self, z):
        return self._decode(self, z)


GOOD_ENCODE = staticmethod(lambda self, x: (self.layer(x.flatten(1))[:, :2], self.layer(x.flatten(1))[:, 2:]))
GOOD_DECODE = staticmethod(lambda self, z: torch.zeros(len(z), 64))


@pytest.mark.parametrize("encode, decode, message", [
    (lambda self, x: "codes", GOOD_DECODE, "encode returned str"),
    (lambda self, x: torch.zeros(len(x), 2, 2), GOOD_DECODE, "N×d"),
    (GOOD_ENCODE, lambda self, z: torch.zeros(len(z), 10), "does not fit images of shape 1×8×8"),
    (GOOD_ENCODE, lambda self, z: self.layer(z), "decode fails on codes of 2 dimensions"),
    (GOOD_ENCODE, lambda self, z: [z], "decode returned list"),
    (GOOD_ENCODE, lambda self, z: torch.full((len(z), 64), float("nan")), "NaN or infinite"),
    (lambda self, x: (torch.full((len(x), 2), float("inf")),) * 2, GOOD_DECODE, "NaN or infinite"),
], ids=["encode-not-tensor", "encode-3d", "decode-size", "decode-raises", "decode-not-tensor", "decode-nan", "encode-inf"])
def test_a_model_that_does_not_fit_is_refused_with_its_cause(encode, decode, message):
    with pytest.raises(ModelError, match=message):
        le.wrap(Broken(encode, decode), image_shape=SHAPE)


def test_missing_methods_wrong_choices_and_unreadable_images_are_named():
    with pytest.raises(ModelError, match="no encode"):
        le.wrap(nn.Linear(3, 3), image_shape=SHAPE)
    with pytest.raises(ModelError, match="input must be one of"):
        le.wrap(ExamplesVAE(), image_shape=SHAPE, input="rows")
    with pytest.raises(ModelError, match="likelihood must be one of"):
        le.wrap(ExamplesVAE(), image_shape=SHAPE, likelihood="poisson")
    # a 28×28 model asked to read 8×8 images: both layouts fail, and both failures are named
    with pytest.raises(ModelError, match=r"does not read images of shape 1×8×8: image input .*; flat input"):
        le.wrap(ExamplesVAE(pixels=784), image_shape=SHAPE)
