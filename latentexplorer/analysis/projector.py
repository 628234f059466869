"""The codes as an Embedding Projector folder: what TensorBoard's projector plugin
(`tensorboard --logdir DIR`) and the standalone projector (projector.tensorflow.org, served
from DIR) load, so the latent space can be browsed in 3-D with t-SNE/UMAP beside the app.

A folder holds `tensors.tsv` (μ, one item a line, no header), `metadata.tsv` (a header row
when it has more than one column, as the projector reads it), `sprite.png` (a square grid
of the items' thumbnails, row by row) and `projector_config.pbtxt` / `projector_config.json`
naming them. The projector stays responsive to about 100,000 points and a WebGL texture to
8192×8192 pixels: above `MAX_ITEMS` a seeded random subset is written, and thumbnails shrink
(each at most 64×64) so the sprite fits. No Qt: the CLI and the GUI both call
`export_projector`.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latentexplorer.data import ImageSet
from latentexplorer.errors import UserError
from latentexplorer.fileio import atomic_write_bytes, atomic_write_text

MAX_ITEMS = 100_000
"""Items written at most by default; above it a seeded random subset (the projector's limit)."""
THUMBNAIL_MAX = 64
"""A sprite cell's largest side in pixels."""
SPRITE_MAX = 8192
"""The sprite's largest side in pixels (WebGL's usual texture limit)."""
SPRITE_MIN_CELL = 4
"""Below this many pixels a cell shows nothing: no sprite is written."""
TENSORS, METADATA, SPRITE = "tensors.tsv", "metadata.tsv", "sprite.png"
CONFIG_PBTXT, CONFIG_JSON = "projector_config.pbtxt", "projector_config.json"


@dataclass(frozen=True)
class ProjectorExport:
    """What was written: the folder, the items (`index` into the data), the sprite cell."""

    folder: Path
    index: np.ndarray
    total: int
    cell: tuple[int, int] | None  # (width, height) of a thumbnail; None without a sprite
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for a status bar or a terminal."""
        items = (f"{len(self.index):,} items" if len(self.index) == self.total
                 else f"a seeded random {len(self.index):,} of {self.total:,} items")
        return f"wrote the projector files for {items} to {self.folder}"


def select_items(n: int, max_items: int | None = MAX_ITEMS, seed: int = 0) -> np.ndarray:
    """All n items in order, or a seeded random `max_items` of them (sorted) above it."""
    if max_items is not None and max_items < 1:
        raise UserError(f"--items must be at least 1, got {max_items}")
    if max_items is None or n <= max_items:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_items, replace=False))


def display_batch(images: ImageSet, index: np.ndarray) -> np.ndarray:
    """What the app shows of the items (N×C×H×W in [0, 1]): the images, or the drawing a
    data set that is not images (pen strokes) makes with its `display_batch`."""
    draw = getattr(images, "display_batch", None)
    return np.asarray(draw(index) if draw is not None else images.float_batch(index).numpy())


def metadata_columns(images: ImageSet, index: np.ndarray,
                     assignment: np.ndarray | None = None) -> dict[str, list[str]]:
    """The projector's metadata of the items at `index`: the item's number in the data, its
    label's name, the mixture component it is assigned to, and each generative factor's value."""
    columns: dict[str, list[str]] = {"item": [str(int(i)) for i in index]}
    if images.labels is not None:
        names = images.class_names
        columns["label"] = [names[v] if 0 <= v < len(names) else str(v)
                            for v in (int(x) for x in images.labels[index])]
    if assignment is not None:
        columns["gmm"] = [str(int(a)) for a in np.asarray(assignment)[index]]
    if images.factors is not None:
        f = images.factors
        for j, name in enumerate(f.names):
            values = np.asarray(f.values[j])
            columns[name] = [_text(values[k]) for k in f.indices[index, j]]
    return columns


def _text(value: object) -> str:
    text = f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)
    return " ".join(text.split())  # no tab or newline may split a cell


def tensors_tsv(mu: np.ndarray) -> str:
    """Tab-separated floats, one item a line, no header; enough digits to read back exactly."""
    mu = np.asarray(mu)
    fmt = "%.9g" if mu.dtype == np.float32 else "%.17g"
    buffer = io.StringIO()
    np.savetxt(buffer, np.atleast_2d(mu), fmt=fmt, delimiter="\t")
    return buffer.getvalue()


def metadata_tsv(columns: Mapping[str, Sequence[str]]) -> str:
    """The projector's metadata format: one column has no header; several have a header row."""
    names = list(columns)
    rows = zip(*(columns[name] for name in names))
    lines = ([] if len(names) == 1 else ["\t".join(_text(n) for n in names)])
    lines += ["\t".join(_text(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def sprite_cell(n: int, height: int, width: int) -> tuple[int, int, int]:
    """(grid side, cell width, cell height): a square grid of ⌈√n⌉ cells a side, each image
    scaled to at most THUMBNAIL_MAX and the grid to at most SPRITE_MAX pixels a side, by an
    integer factor when enlarged (small images stay crisp)."""
    side = max(1, math.ceil(math.sqrt(n)))
    limit = min(THUMBNAIL_MAX, SPRITE_MAX // side)
    largest = max(height, width)
    if largest <= limit:
        factor = limit // largest
        return side, width * factor, height * factor
    scale = limit / largest
    return side, max(1, int(width * scale)), max(1, int(height * scale))


def sprite_image(images: ImageSet, index: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, tuple[int, int]]:
    """The items at `index` as one sprite (H×W×3 uint8, black where no item is) and its
    cell's (width, height); drawn a chunk at a time, so 100,000 stroke drawings never sit in
    memory at once."""
    from PIL import Image

    _, h, w = display_batch(images, index[:1]).shape[1:]
    side, cell_w, cell_h = sprite_cell(len(index), h, w)
    sprite = np.zeros((side * cell_h, side * cell_w, 3), np.uint8)
    resample = Image.Resampling.NEAREST if cell_w >= w else Image.Resampling.BOX
    for start in range(0, len(index), chunk):
        rgb = np.clip(np.rint(display_batch(images, index[start:start + chunk]) * 255), 0, 255).astype(np.uint8)
        rgb = np.repeat(rgb, 3, axis=1) if rgb.shape[1] == 1 else rgb
        for i, picture in enumerate(rgb.transpose(0, 2, 3, 1), start):
            r, c = divmod(i, side)
            if (cell_w, cell_h) != (w, h):
                picture = np.asarray(Image.fromarray(picture).resize((cell_w, cell_h), resample))
            sprite[r * cell_h:(r + 1) * cell_h, c * cell_w:(c + 1) * cell_w] = picture
    return sprite, (cell_w, cell_h)


def config_pbtxt(name: str, shape: tuple[int, int], cell: tuple[int, int] | None) -> str:
    """TensorBoard's ProjectorConfig in protobuf text format (paths relative to the folder)."""
    lines = ["embeddings {", f'  tensor_name: "{name}"', f"  tensor_shape: {shape[0]}",
             f"  tensor_shape: {shape[1]}", f'  tensor_path: "{TENSORS}"', f'  metadata_path: "{METADATA}"']
    if cell is not None:
        lines += ["  sprite {", f'    image_path: "{SPRITE}"', f"    single_image_dim: {cell[0]}",
                  f"    single_image_dim: {cell[1]}", "  }"]
    return "\n".join([*lines, "}"]) + "\n"


def config_json(name: str, shape: tuple[int, int], cell: tuple[int, int] | None) -> str:
    """The standalone projector's configuration (its `?config=` URL), paths relative to DIR."""
    embedding: dict = {"tensorName": name, "tensorShape": list(shape), "tensorPath": TENSORS,
                       "metadataPath": METADATA}
    if cell is not None:
        embedding["sprite"] = {"imagePath": SPRITE, "singleImageDim": list(cell)}
    return json.dumps({"embeddings": [embedding]}, indent=2) + "\n"


def export_projector(folder: str | Path, mu: np.ndarray, images: ImageSet,
                     assignment: np.ndarray | None = None, *, max_items: int | None = MAX_ITEMS,
                     seed: int = 0, tensor_name: str = "mu") -> ProjectorExport:
    """Write the projector's files for μ (one row per item of `images`) and the mixture's
    hard `assignment`; above `max_items` a seeded subset. A folder that cannot be written
    is a one-line UserError."""
    folder = Path(folder)
    mu = np.asarray(mu)
    if len(mu) != len(images) or len(mu) == 0:
        raise UserError(f"{len(mu)} codes for {len(images)} items: nothing to export")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    index = select_items(len(mu), max_items, seed)
    notes = []
    if len(index) < len(mu):
        notes.append(f"a seeded random {len(index):,} of {len(mu):,} items (the projector "
                     f"handles about {MAX_ITEMS:,} points)")
    shape = (len(index), int(mu.shape[1]))
    cell: tuple[int, int] | None = None
    try:
        atomic_write_text(folder / TENSORS, tensors_tsv(mu[index]))
        atomic_write_text(folder / METADATA, metadata_tsv(metadata_columns(images, index, assignment)))
        if SPRITE_MAX // max(1, math.ceil(math.sqrt(len(index)))) < SPRITE_MIN_CELL:
            notes.append(f"no sprite: {len(index):,} thumbnails of under {SPRITE_MIN_CELL} pixels")
        else:
            sprite, cell = sprite_image(images, index)
            atomic_write_bytes(folder / SPRITE, _png(sprite))
        atomic_write_text(folder / CONFIG_PBTXT, config_pbtxt(tensor_name, shape, cell))
        atomic_write_text(folder / CONFIG_JSON, config_json(tensor_name, shape, cell))
    except OSError as exc:
        raise UserError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    return ProjectorExport(folder, index, len(mu), cell, notes)


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
