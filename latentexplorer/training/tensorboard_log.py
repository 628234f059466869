"""TensorBoard event files in a run folder's `tb/`, written by the Trainer after each saved
epoch, so the CLI, the Training tab and sweeps all log the same way.

Per epoch (the step is the epoch, as in history.csv): the training losses (total,
reconstruction, KL, β·KL as added to the loss, the KL weight), the validation losses, the KL of
each latent dimension, and two pictures: a few validation items above their reconstructions,
and decodes of the same seeded prior samples every epoch. Models that do not decode to the
data's images (CLIP, sequences) log the numbers only.

`tensorboard` is optional (`pip install 'latentexplorer[tensorboard]'`): without it, or with a
version too old for these calls, training runs the same and says so once per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentexplorer.data.base import ImageSet
from latentexplorer.logs import get_logger
from latentexplorer.training.records import EpochMetrics

TB_FOLDER = "tb"
MIN_VERSION = (2, 14)
WRITER_CALLS = ("add_scalar", "add_images", "flush", "close")
INSTALL_HINT = ("TensorBoard logging is off: `pip install 'latentexplorer[tensorboard]'` to have "
                "each run write RUN/tb for `tensorboard --logdir RUN/tb` (--no-tensorboard hides this)")
SCALARS = {
    "train_total": "train/total", "train_recon": "train/reconstruction", "train_kl": "train/kl",
    "train_reg": "train/beta_kl", "kl_weight": "train/kl_weight", "val_total": "validation/total",
    "val_recon": "validation/reconstruction", "val_kl": "validation/kl", "val_elbo": "validation/elbo",
}
"""history.csv column → TensorBoard tag; `kl_dim_i` goes to `kl_per_dim/i`."""
IMAGE_ITEMS = 8  # validation items shown above their reconstructions
PRIOR_SAMPLES = 16
MIN_PIXELS = 32  # smaller images are scaled up (nearest) so TensorBoard shows them legibly

_said = False


def tag_of(column: str) -> str | None:
    """The TensorBoard tag of a history.csv column, None for columns not logged."""
    if column.startswith("kl_dim_"):
        return f"kl_per_dim/{column[7:]}"
    return SCALARS.get(column)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2])


def tensorboard_problem() -> str | None:
    """Why TensorBoard logging cannot run here (not installed, too old, broken), None when it can.
    Checked before the first epoch, so an old package is named at the start, not as a crash."""
    try:
        import tensorboard
    except ImportError:
        return INSTALL_HINT
    version = str(getattr(tensorboard, "__version__", "0"))
    wanted = ".".join(map(str, MIN_VERSION))
    if _version(version) < MIN_VERSION:
        return (f"TensorBoard logging is off: tensorboard {version} is too old (LatentExplorer needs "
                f"{wanted} or later); `pip install -U 'tensorboard>={wanted}'`")
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as exc:  # ImportError, or a protobuf it cannot work with (TypeError)
        return f"TensorBoard logging is off: torch.utils.tensorboard does not load ({exc})"
    missing = [name for name in WRITER_CALLS if not hasattr(SummaryWriter, name)]
    if missing:
        return (f"TensorBoard logging is off: this SummaryWriter lacks {', '.join(missing)}; "
                f"`pip install -U 'tensorboard>={wanted}'`")
    return None


def say_once(message: str, say: Callable[[str], None] | None) -> None:
    """Tell the user once per process (a run after the first stays quiet)."""
    global _said
    if _said:
        return
    _said = True
    (say or get_logger("training").warning)(message)


class TensorBoardLog:
    """One run's writer; `epoch(metrics)` after each saved epoch, `close()` when training ends."""

    def __init__(self, writer: Any, model: torch.nn.Module, images: ImageSet | None, seed: int) -> None:
        self.writer = writer
        self.model = model
        self.items: torch.Tensor | None = None
        self.z: torch.Tensor | None = None
        if images is not None and len(images) and _structured(images) is None:
            index = np.unique(np.linspace(0, len(images) - 1, min(IMAGE_ITEMS, len(images))).astype(int))
            self.items = images.float_batch(index)
            generator = torch.Generator().manual_seed(seed)
            self.z = torch.randn(PRIOR_SAMPLES, getattr(model, "latent_dim", 1), generator=generator)

    @classmethod
    def open(cls, folder: str | Path, model: torch.nn.Module, images: ImageSet | None, *, seed: int,
             start_epoch: int, say: Callable[[str], None] | None = None) -> TensorBoardLog | None:
        """A writer into `folder/tb`, or None (said once) when TensorBoard cannot log here.
        A new run clears event files an overwritten run left; a resumed one purges events after
        its last saved epoch, so each epoch appears once."""
        problem = tensorboard_problem()
        if problem is not None:
            say_once(problem, say)
            return None
        from torch.utils.tensorboard import SummaryWriter

        log_dir = Path(folder) / TB_FOLDER
        if start_epoch == 0 and log_dir.is_dir():
            for old in log_dir.glob("events.out.tfevents.*"):
                old.unlink(missing_ok=True)
        writer = SummaryWriter(str(log_dir), purge_step=start_epoch + 1 if start_epoch else None)
        return cls(writer, model, images, seed)

    def epoch(self, metrics: EpochMetrics) -> None:
        step = metrics.epoch
        for column, value in metrics.row().items():
            tag = tag_of(column)
            if tag is not None:
                self.writer.add_scalar(tag, float(value), step)
        self._images(step)
        self.writer.flush()

    @torch.no_grad()
    def _images(self, step: int) -> None:
        if self.items is None:
            return
        model = self.model
        was_training = model.training
        model.eval()
        try:
            x = self.items.to(model.device)
            recon = model.reconstruct(x)
            samples = model.mean(self.z.to(model.device))
        except Exception:  # no decoder (CLIP) or one that draws something else: numbers only
            self.items = None
            return
        finally:
            model.train(was_training)
        if recon.shape != x.shape or samples.shape[1:] != x.shape[1:] or x.shape[1] not in (1, 3):
            self.items = None  # sequences decode to drawings, not to the data's tensors
            return
        self.writer.add_images("reconstructions", _legible(torch.cat([x, recon])), step)
        self.writer.add_images("prior_samples", _legible(samples), step)

    def close(self) -> None:
        self.writer.close()


def _structured(images: ImageSet) -> Any:
    return getattr(images, "structured_batch", None)


def _legible(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] on the CPU, small ones scaled up by an integer factor."""
    images = images.detach().float().cpu().clamp(0.0, 1.0)
    factor = max(1, MIN_PIXELS // max(images.shape[-2:]))
    return images.repeat_interleave(factor, -2).repeat_interleave(factor, -1) if factor > 1 else images
