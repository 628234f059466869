#!/bin/sh
# Rebuild the bundled runs from scratch (about 10 minutes on 2 CPU cores).
#   sh checkpoints/build.sh            # uses `python` (set PYTHON=.venv/bin/python to choose)
# Each run trains into runs/bundled/<name>, then its files except the optimizer state
# (bundled runs are read-only, never resumed in place) are copied to checkpoints/<name>.
set -eu
PY=${PYTHON:-python}
WORK=${WORK:-runs/bundled}

build() {
    name=$1
    shift
    "$PY" -m latentexplorer train --quiet --seed 0 --threads 2 --overwrite --out "$WORK/$name" "$@"
    mkdir -p "checkpoints/$name"
    for f in config.json model.safetensors state.json history.csv steps.csv vocab.json; do
        if [ -f "$WORK/$name/$f" ]; then cp "$WORK/$name/$f" "checkpoints/$name/$f"; fi
    done
    "$PY" -m latentexplorer evaluate "checkpoints/$name"
}

build digits-vae-2d --dataset digits --model vae --latent-dim 2 --arch mlp --hidden 256,128 \
    --epochs 300 --batch-size 64
build digits-ae-2d --dataset digits --model ae --latent-dim 2 --arch mlp --hidden 256,128 \
    --epochs 300 --batch-size 64
build sprites-betavae --dataset sprites --items 100000 --size 32 --model betavae --beta 4 \
    --latent-dim 8 --arch mlp --hidden 400,200 --epochs 30
# A CLIP-style image-caption model on captioned sprites (about 2 minutes).
build sprites-clip --dataset sprites --items 20000 --size 32 --model clip --latent-dim 32 \
    --arch conv --hidden 256 --epochs 15 --batch-size 256
# Sequence VAE on pen trajectories (about 3 minutes on one thread): its KL weight ramps in over
# 5 epochs (the default for seqvae), so the decoder learns to use z before the KL can switch it off.
build strokes-seqvae --dataset strokes --items 1500 --model seqvae --latent-dim 4 --hidden 64 \
    --epochs 40 --batch-size 32 --lr 0.003 --threads 1
