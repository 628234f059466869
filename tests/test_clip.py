"""The CLIP model: captions and tokenizer, the InfoNCE loss, training, retrieval, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from latentexplorer.analysis.retrieval import evaluate_clip, retrieval, zero_shot
from latentexplorer.checkpoint import load_run
from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from latentexplorer.data import make_sprites
from latentexplorer.data.captions import (
    SIZE_WORDS,
    CaptionBatch,
    UnknownWords,
    attributes,
    candidate_captions,
    caption_images,
    full_captions,
    sprite_vocabulary,
)
from latentexplorer.errors import DataError
from latentexplorer.models import build_model
from latentexplorer.models.clip import LOGIT_SCALE_MAX, CLIPModel, info_nce
from latentexplorer.training import train
from latentexplorer.training.run import split_data


def test_tokenizer_round_trips_and_names_unknown_words():
    vocab = sprite_vocabulary()
    text = "a small heart at the top left upside down"
    ids = vocab.encode([text], length=14)
    assert ids.shape == (1, 14) and (ids[0, 9:] == 0).all()
    assert vocab.decode(ids) == [text]
    assert vocab.encode("A Small HEART, at the top left!")[0].tolist()[:7] == ids[0].tolist()[:7]
    with pytest.raises(UnknownWords, match="'purple'.*'star'"):
        vocab.encode("a purple star")
    assert vocab.unknown("a purple heart") == ["purple"]
    assert type(vocab).from_json(vocab.to_json()) == vocab


def test_captions_describe_the_factors():
    data = caption_images(make_sprites(n=300, seed=3), seed=1)
    attrs = attributes(data.factors.indices)
    assert data.tokens.shape == (300, 14)
    for text, (shape, size, x, y, _) in zip(full_captions(attrs, seed=2), attrs):
        assert ("heart" in text) == (shape == 2)
        assert ("left" in text.replace("turned left", "")) == (x == 0)
        assert ("top" in text) == (y == 0)
        assert any(word in text.split() for word in SIZE_WORDS[size])
    assert all(("heart" in text) <= (shape == 2) for text, shape in zip(data.captions, attrs[:, 0]))
    assert len(set(data.captions)) > 100  # templates and synonyms make them vary
    texts, grid = candidate_captions()
    assert len(texts) == len(set(texts)) == len(grid) == 324
    half = data.subset(np.arange(150))
    assert half.captions == data.captions[:150] and (half.tokens == data.tokens[:150]).all()
    with pytest.raises(DataError, match="sprite factors"):
        from latentexplorer.data import load_digits

        caption_images(load_digits())


def test_info_nce_equals_the_cross_entropies_written_out():
    torch.manual_seed(0)
    image = F.normalize(torch.randn(6, 4), dim=-1)
    text = F.normalize(torch.randn(6, 4), dim=-1)
    log_scale = torch.tensor(math.log(12.5))
    expected = 0.0
    for i in range(6):
        rows = [12.5 * float(image[i] @ text[j]) for j in range(6)]
        cols = [12.5 * float(image[j] @ text[i]) for j in range(6)]
        expected += -rows[i] + math.log(sum(math.exp(r) for r in rows))
        expected += -cols[i] + math.log(sum(math.exp(c) for c in cols))
    assert float(info_nce(image, text, log_scale)) == pytest.approx(expected / 12, rel=1e-5)
    # perfect pairs at a low temperature cost almost nothing
    assert float(info_nce(image, image, torch.tensor(math.log(100.0)))) < float(info_nce(image, text, log_scale))


def test_model_loss_uses_the_clamped_temperature():
    model = CLIPModel(ModelConfig(kind="clip", image_shape=(1, 32, 32), latent_dim=8, hidden=(32,),
                                  channels=(8, 8), vocab_size=len(sprite_vocabulary())))
    with torch.no_grad():
        model.logit_scale.fill_(10.0)  # beyond the clamp
    data = caption_images(make_sprites(n=16, seed=1))
    batch = CaptionBatch(data.float_batch(), torch.from_numpy(data.tokens))
    terms = model(batch)
    image, text = model.embed_images(batch.images), model.embed_tokens(batch.tokens)
    expected = info_nce(image, text, torch.tensor(LOGIT_SCALE_MAX))
    assert float(terms.total.detach()) == pytest.approx(float(expected.detach()))
    assert float(terms.kl) == 0 and model.temperature == pytest.approx(0.01)
    assert model.encode(batch.images).mu.norm(dim=-1).allclose(torch.ones(16))
    with pytest.raises(DataError, match="no decoder"):
        model.mean(torch.zeros(1, 8))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short run on 2,500 captioned sprites (about 10 s on two idle cores)."""
    out = tmp_path_factory.mktemp("clip") / "run"
    config = RunConfig(
        model=ModelConfig(kind="clip", latent_dim=16, architecture="conv", hidden=(128,), channels=(16, 32, 32)),
        train=TrainConfig(epochs=5, batch_size=128, lr=2e-3, threads=2, precision="fp32"),
        data=DataConfig(name="sprites", n=2500, size=32, seed=0, val_fraction=0.2),
    )
    result = train(config, out)
    assert result.status == "completed"
    return out


def test_training_gives_held_out_retrieval_far_above_chance(trained):
    run = load_run(trained)
    history = run.history
    assert history[-1]["val_total"] < history[0]["val_total"]
    _, val = split_data(run.config)
    result = retrieval(run.model, val, candidates=100, n=500)
    # chance: 1% top-1, 5% top-5 among 100 candidates; this run reaches about 27% and 80%
    assert result.image_to_text[1] > 0.1 and result.image_to_text[5] > 0.4
    assert result.text_to_image[1] > 0.1 and result.text_to_image[5] > 0.4
    accuracy, chance = zero_shot(run.model, val, "x")
    assert accuracy > chance + 0.2


def test_save_load_round_trip_keeps_embeddings_and_vocabulary(trained, tmp_path):
    run = load_run(trained)
    assert (trained / "vocab.json").is_file()
    again = build_model(run.config.model, trained)
    again.load_state_dict(run.model.state_dict())
    again.eval()
    x = make_sprites(n=8, seed=5).float_batch()
    assert torch.equal(run.model.encode(x).mu, again.encode(x).mu)
    texts = ["a heart", "big square at the top left, upright"]
    assert torch.equal(run.model.encode_text(texts), again.encode_text(texts))
    (trained / "vocab.json").rename(tmp_path / "vocab.json")
    try:
        with pytest.raises(Exception, match="vocab.json"):
            load_run(trained)
    finally:
        (tmp_path / "vocab.json").rename(trained / "vocab.json")


def test_evaluate_reports_retrieval_and_zero_shot(trained, capsys):
    from latentexplorer.cli import main

    assert main(["evaluate", str(trained), "--n", "500"]) == 0
    out = capsys.readouterr().out
    assert "retrieval among 100 candidates" in out and "zero-shot shape" in out
    run = load_run(trained)
    _, val = split_data(run.config)
    result = evaluate_clip(run.model, val, n=500)
    assert set(result.zero_shot) == {"shape", "size", "x", "y"}


def test_training_clip_on_data_without_captions_is_refused_in_one_line(tmp_path, capsys):
    from latentexplorer.cli import main

    assert main(["train", "--dataset", "digits", "--model", "clip", "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "sprite factors" in err and "--dataset sprites" in err and len(err.strip().splitlines()) == 1
