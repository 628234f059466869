"""Where a number or a picture came from: one block that `evaluate --json`, a run's
`provenance.json` and every exported figure carry, so a figure found months later still says
which weights, estimator, items, seed, versions and device made it.

The block is plain JSON (no torch objects); in a PNG it is a text chunk under `PNG_KEY`, in an
SVG a `<metadata>` element. No Qt here: the GUI passes the run it shows.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from latentexplorer.fileio import atomic_write_bytes, atomic_write_text
from latentexplorer.version import __version__

if TYPE_CHECKING:
    from latentexplorer.checkpoint import Run

PROVENANCE_FILE = "provenance.json"
PNG_KEY = "latentexplorer:provenance"
_HASHES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) → SHA-256: exports re-hash nothing


def sha256_file(path: str | Path) -> str:
    """The file's SHA-256 (hex), read in 1 MB chunks; cached until the file changes."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(2**20), b""):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def precision_of(model: Any) -> str:
    """fp32 / bf16 / … from the dtype of a model's first parameter (fp32 when it has none)."""
    try:
        dtype = next(model.parameters()).dtype
    except (AttributeError, StopIteration, TypeError):
        return "fp32"
    return {"torch.float32": "fp32", "torch.bfloat16": "bf16", "torch.float16": "fp16"}.get(str(dtype), str(dtype))


def device_of(model: Any) -> str:
    try:
        return str(next(model.parameters()).device)
    except (AttributeError, StopIteration, TypeError):
        return "cpu"


def provenance(
    *,
    estimator: str,
    k: int | None = None,
    items: int | None = None,
    split: str | None = None,
    seed: int | None = None,
    weights: str | Path | None = None,
    device: str | None = None,
    precision: str | None = None,
    wall_time_s: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The block: what was estimated (and with how many samples k), on which items, with which
    seed and weights (their SHA-256), by which versions, on which device, and how long it took.
    `weights` that are missing give a null hash rather than an error: a figure still saves."""
    import torch

    digest = None
    if weights is not None and Path(weights).is_file():
        digest = sha256_file(weights)
    block: dict[str, Any] = {
        "estimator": estimator, "k": k, "items": items, "split": split, "seed": seed,
        "weights": str(weights) if weights is not None else None, "weights_sha256": digest,
        "latentexplorer": __version__, "torch": torch.__version__, "numpy": np.__version__,
        "device": device, "precision": precision,
        "wall_time_s": None if wall_time_s is None else round(float(wall_time_s), 4),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    block.update(extra)
    return block


def weights_of(run: Run) -> Path | None:
    """The weights file a run's model was loaded from: a user model's own file, else the run
    folder's model.safetensors; None for a model that lives only in memory (a plugin's, or
    one given to `le.show`), whose weights no file holds."""
    from latentexplorer.checkpoint import WEIGHTS_FILE

    user = run.state.get("user_model")
    if user is not None:
        return Path(user) if Path(user).is_file() else None
    if run.state.get("notebook"):
        return None
    return Path(run.folder) / WEIGHTS_FILE


def run_provenance(opened: Run, /, *, estimator: str, model: Any = None, **fields: Any) -> dict[str, Any]:
    """The block of figures computed with an opened run's model (`model`: another copy of it,
    e.g. the GUI's): weights, device and precision come from the run and the model."""
    model = model if model is not None else opened.model
    return provenance(estimator=estimator, weights=weights_of(opened), device=device_of(model),
                      precision=precision_of(model), **fields)


def figure_provenance(run: Run | None, *, items: int | None = None, model: Any = None) -> dict[str, Any]:
    """The block of a figure the GUI exports from the run it shows, over all of the run's data
    it shows; a figure without a run still says versions and time."""
    if run is None:
        return provenance(estimator="figure")
    return run_provenance(run, estimator="figure", model=model, items=items, split="all",
                          seed=run.config.train.seed, run=str(run.folder), data=run.config.data.name,
                          epoch=run.epoch)


def write_provenance(folder: str | Path, block: dict[str, Any]) -> Path:
    """`provenance.json` in a run folder, written atomically."""
    path = Path(folder) / PROVENANCE_FILE
    atomic_write_text(path, json.dumps(block, indent=2) + "\n")
    return path


def _stamped(block: dict[str, Any], started: float) -> dict[str, Any]:
    """The block with the export's own time when no other wall time was given."""
    if block.get("wall_time_s") is None:
        block = {**block, "wall_time_s": round(time.perf_counter() - started, 4)}
    return block


def save_png(pixels: np.ndarray, path: str | Path, block: dict[str, Any] | None = None) -> None:
    """An H×W×3 uint8 picture as a PNG carrying `block` as its text chunk `PNG_KEY`."""
    from PIL import Image, PngImagePlugin

    started = time.perf_counter()
    info = None
    if block is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text(PNG_KEY, json.dumps(_stamped(block, started)))
    Image.fromarray(pixels).save(path, pnginfo=info)


def stamp_png(path: str | Path, block: dict[str, Any]) -> None:
    """Add the block to a PNG another writer made (pyqtgraph's exporter): read, re-save."""
    from PIL import Image, PngImagePlugin

    started = time.perf_counter()
    with Image.open(path) as image:
        image.load()
        info = PngImagePlugin.PngInfo()
        for key, value in getattr(image, "text", {}).items():
            if key != PNG_KEY:
                info.add_text(key, value)
        info.add_text(PNG_KEY, json.dumps(_stamped(block, started)))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", pnginfo=info)
    atomic_write_bytes(path, buffer.getvalue())


def stamp_svg(path: str | Path, block: dict[str, Any]) -> None:
    """Add the block to an SVG as a `<metadata>` element right after the opening `<svg …>`."""
    from xml.sax.saxutils import escape

    started = time.perf_counter()
    text = Path(path).read_text(encoding="utf-8")
    start = text.find("<svg")
    end = text.find(">", start)
    if start < 0 or end < 0:
        return
    element = (f'\n<metadata id="{PNG_KEY}">{escape(json.dumps(_stamped(block, started)))}</metadata>')
    atomic_write_text(path, text[: end + 1] + element + text[end + 1 :])


def stamp_figure(path: str | Path, block: dict[str, Any]) -> None:
    """Add the block to a figure another writer saved: PNG and SVG; other formats stay as they are."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        stamp_png(path, block)
    elif suffix == ".svg":
        stamp_svg(path, block)


def read_png_provenance(path: str | Path) -> dict[str, Any] | None:
    """The block a PNG carries, None when it has none."""
    from PIL import Image

    with Image.open(path) as image:
        text = getattr(image, "text", {}).get(PNG_KEY)
    return json.loads(text) if text else None
