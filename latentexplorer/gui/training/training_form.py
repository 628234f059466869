"""The training form: every knob of a run, with a one-sentence tooltip, validated before any
thread starts, remembered between sessions."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from latentexplorer.config import KIND_DEFAULTS, DataConfig, ModelConfig, RunConfig, TrainConfig
from latentexplorer.data import DATASETS
from latentexplorer.data.strokes import MAX_LENGTH
from latentexplorer.errors import ConfigError
from latentexplorer.gui.widgets.dialogs import NEEDS_ROOT, browse_data_location

FIXED_SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28),
                "kmnist": (1, 28, 28), "cifar10": (3, 32, 32), "strokes": (1, MAX_LENGTH, 3)}


def default_runs_folder() -> Path:
    """Where new runs go unless the user picks a folder: the user's data folder."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".latentexplorer") / "runs"


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    box = QSpinBox(minimum=low, maximum=high, value=value)
    box.setToolTip(tip)
    return box


def _dspin(low: float, high: float, value: float, step: float, decimals: int, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(decimals)  # before the value: Qt rounds values to the current decimals
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


class TrainingForm(QWidget):
    """The knobs; `run_config()` turns them into a validated RunConfig or raises ConfigError."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dataset = QComboBox()
        self.dataset.addItems(DATASETS)
        self.dataset.setCurrentText("digits")
        self.dataset.setToolTip("The images to learn from; sprites and digits need no files")
        self.root = QLineEdit()
        self.root.setPlaceholderText("folder or .npz file, for the sources that need one")
        self.root.setToolTip("MNIST-style: the folder holding MNIST/raw; image folder; or the .npz file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_root)
        self.items = _spin(0, 10_000_000, 0, "Use a seeded subset of this many items (0: all; sprites: 50,000)")
        self.items.setSpecialValueText("all")
        self.size = _spin(8, 256, 32, "Image size for sprites and image folders")
        self.kind = QComboBox()
        for key, name in (("vae", "VAE"), ("betavae", "β-VAE"), ("ae", "Autoencoder"),
                          ("seqvae", "Sequence VAE")):
            self.kind.addItem(name, key)
        self.kind.setToolTip("Autoencoder: no prior, no KL; VAE: β = 1; β-VAE: β > 1 trades "
                             "reconstruction for a more factorised latent")
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.arch = QComboBox()
        self.arch.addItems(["auto", "mlp", "conv"])
        self.arch.setToolTip("auto: convolutions for images of 16 px and more, an MLP below")
        self.latent = _spin(0, 128, 2, "Number of latent dimensions (2 can be drawn directly)")
        self.hidden = QLineEdit("256,128")
        self.hidden.setToolTip("Widths of the MLP's hidden layers (the conv net uses the first)")
        self.beta = _dspin(0.0, 1000.0, 1.0, 0.5, 2, "β weights the KL term: above 1 pushes towards "
                           "the prior (more disentangled, blurrier), below 1 towards reconstruction")
        self.warmup = _dspin(0.0, 1000.0, 0.0, 1.0, 1, "KL warm-up: the KL weight ramps from 0 to β "
                             "over this many epochs, so the decoder learns to use z first")
        self.capacity = _dspin(0.0, 1000.0, 0.0, 1.0, 1, "Capacity C (nats): the loss becomes "
                               "β·|KL − C| with C growing to this value (Burgess et al.); 0 = off")
        self.likelihood = QComboBox()
        self.likelihood.addItems(["bernoulli", "gaussian", "gaussian-learned"])
        self.likelihood.setToolTip("p(x|z): Bernoulli for near-binary images, Gaussian for photos "
                                   "(learned: one shared σ is learned too)")
        self.epochs = _spin(1, 100_000, 40, "Passes over the training data")
        self.batch = _spin(1, 65_536, 64, "Images per optimisation step")
        self.lr = _dspin(1e-6, 10.0, 1e-3, 1e-4, 6, "Adam's learning rate; lower it if the loss turns NaN")
        self.clip = _dspin(0.0, 1e6, 0.0, 1.0, 2, "Clip the gradients' global norm to this value "
                           "(off: Adam alone; try a clip, or a lower learning rate, if the loss turns NaN)")
        self.clip.setSpecialValueText("off")
        self.seed = _spin(0, 2**31 - 1, 0, "Seed for the split, the initial weights and the sampling")
        self.out = QLineEdit()
        self.out.setToolTip("The run folder to create (config.json, weights, history)")
        browse_out = QPushButton("Browse…")
        browse_out.clicked.connect(self._browse_out)
        form = QFormLayout(self)
        root_row = QHBoxLayout()
        root_row.addWidget(self.root, 1)
        root_row.addWidget(browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse_out)
        for label, widget in (
            ("Dataset", self.dataset), ("Data location", root_row), ("Items", self.items),
            ("Image size", self.size), ("Model", self.kind), ("Network", self.arch),
            ("Latent dimensions", self.latent), ("Hidden widths", self.hidden), ("β", self.beta),
            ("KL warm-up (epochs)", self.warmup), ("Capacity (nats)", self.capacity),
            ("Likelihood", self.likelihood), ("Epochs", self.epochs), ("Batch size", self.batch),
            ("Learning rate", self.lr), ("Gradient clip", self.clip), ("Seed", self.seed),
            ("Output folder", out_row),
        ):
            form.addRow(label, widget)
        self.out.setText(str(self.suggested_out()))

    # --- values ----------------------------------------------------------------------------

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        if kind == "betavae" and self.beta.value() <= 1.0:
            self.beta.setValue(4.0)
        elif kind == "vae":
            self.beta.setValue(1.0)
        for w in (self.beta, self.warmup, self.capacity):
            w.setEnabled(kind != "ae")
        defaults = KIND_DEFAULTS.get(kind, {})
        if defaults:  # e.g. the sequence VAE: one GRU width, learned σ, KL warm-up
            self.hidden.setText(",".join(str(h) for h in defaults["hidden"]))
            self.likelihood.setCurrentText(defaults["likelihood"])
            self.warmup.setValue(defaults["warmup_epochs"])

    def suggested_out(self) -> Path:
        base = default_runs_folder() / f"{self.dataset.currentText()}-{self.kind.currentData()}"
        candidate, n = base, 1
        while candidate.exists():
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")
        return candidate

    def run_config(self) -> RunConfig:
        """The form as a RunConfig; ConfigError names the first bad field."""
        name = self.dataset.currentText()
        root = self.root.text().strip() or None
        if name in NEEDS_ROOT:
            if root is None:
                raise ConfigError(f"{name} needs a data location (a folder or file)")
            if not Path(root).exists():
                raise ConfigError(f"data location not found: {root}")
        try:
            hidden = tuple(int(v) for v in self.hidden.text().split(",") if v.strip())
        except ValueError:
            raise ConfigError("hidden widths must be comma-separated integers, e.g. 256,128") from None
        kind = self.kind.currentData()
        model = ModelConfig(
            kind=kind, latent_dim=self.latent.value(), architecture=self.arch.currentText(),
            hidden=hidden or (256,), likelihood=self.likelihood.currentText(),
            beta=self.beta.value() if kind != "ae" else 1.0, warmup_epochs=self.warmup.value(),
            capacity=self.capacity.value(), capacity_epochs=self.epochs.value() if self.capacity.value() else 0.0,
        )
        data = DataConfig(name=name, root=root, n=self.items.value() or None, size=self.size.value(),
                          seed=self.seed.value())
        train = TrainConfig(epochs=self.epochs.value(), batch_size=self.batch.value(), lr=self.lr.value(),
                            grad_clip=self.clip.value(), seed=self.seed.value())
        if not self.out.text().strip():
            raise ConfigError("choose an output folder for the run")
        return RunConfig(model=model, train=train, data=data, name=Path(self.out.text()).name)

    def load_config(self, config: RunConfig, out: str | Path | None = None) -> None:
        """Show a run's configuration (Continue training)."""
        m, d, t = config.model, config.data, config.train
        self.dataset.setCurrentText(d.name)
        self.root.setText(d.root or "")
        self.items.setValue(d.n or 0)
        self.size.setValue(d.size or m.image_shape[1])
        self.kind.setCurrentIndex(self.kind.findData(m.kind))
        self.arch.setCurrentText(m.architecture)
        self.latent.setValue(m.latent_dim)
        self.hidden.setText(",".join(str(h) for h in m.hidden))
        self.beta.setValue(m.beta)
        self.warmup.setValue(m.warmup_epochs)
        self.capacity.setValue(m.capacity)
        self.likelihood.setCurrentText(m.likelihood)
        self.epochs.setValue(t.epochs)
        self.batch.setValue(t.batch_size)
        self.lr.setValue(t.lr)
        self.clip.setValue(t.grad_clip)
        self.seed.setValue(t.seed)
        if out is not None:
            self.out.setText(str(out))

    # --- settings ----------------------------------------------------------------------------

    def save_settings(self, settings: QSettings) -> None:
        with contextlib.suppress(ConfigError):
            settings.setValue("training/lastConfig", self.run_config().to_json())

    def restore_settings(self, settings: QSettings) -> None:
        text = settings.value("training/lastConfig")
        if not text:
            return
        try:
            config = RunConfig.from_json(str(text))
        except (ConfigError, json.JSONDecodeError):
            return
        self.load_config(replace(config, name=""))
        self.out.setText(str(self.suggested_out()))

    def _browse_root(self) -> None:
        path = browse_data_location(self, self.dataset.currentText())
        if path:
            self.root.setText(path)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the new run", str(default_runs_folder()))
        if path:
            self.out.setText(str(Path(path) / self.suggested_out().name))


def expected_shape(config: RunConfig) -> tuple[int, int, int] | None:
    """The image shape the data will have, when it can be known without loading them."""
    d = config.data
    if d.name in FIXED_SHAPES:
        return FIXED_SHAPES[d.name]
    if d.name == "sprites":
        return (1, d.size or 32, d.size or 32)
    if d.name == "folder":
        return (1 if d.grayscale else 3, d.size or 32, d.size or 32)
    return None
