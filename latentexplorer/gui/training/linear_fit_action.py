"""File ▸ Fit PCA / factor analysis of this data…: a linear latent model of the images the
explorer shows, fitted in a worker thread, saved as a run folder and opened like any run."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from latentexplorer.checkpoint import is_run_folder
from latentexplorer.config import ModelConfig, RunConfig
from latentexplorer.gui.tasks import Task
from latentexplorer.gui.training.training_form import default_runs_folder

KINDS = (("pca", "PCA (principal components)"), ("fa", "Factor analysis"))


def unused_folder(base: Path) -> Path:
    """`base`, or `base-2`, `base-3`… the first that does not exist."""
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


class LinearFitDialog(QDialog):
    """Which linear model, how many components, and where the run goes."""

    def __init__(self, dataset: str, n_pixels: int, latent_dim: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("linearFitDialog")
        self.setWindowTitle("Fit PCA / factor analysis")
        self.dataset = dataset
        self.kind = QComboBox()
        for key, name in KINDS:
            self.kind.addItem(name, key)
        self.kind.setToolTip("PCA: the linear autoencoder (point codes); factor analysis: the linear "
                             "VAE (an exact Gaussian posterior, a noise variance per pixel)")
        self.latent_dim = QSpinBox(minimum=1, maximum=min(128, n_pixels), value=min(latent_dim, n_pixels))
        self.latent_dim.setToolTip("Number of components (latent dimensions)")
        self.out = QLineEdit()
        self.out.setToolTip("The run folder to write")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        form = QFormLayout(self)
        form.addRow("Model", self.kind)
        form.addRow("Components", self.latent_dim)
        form.addRow("Run folder", self.out)
        form.addRow(buttons)
        self.kind.currentIndexChanged.connect(self._suggest)
        self._suggest()

    def _suggest(self) -> None:
        self.out.setText(str(unused_folder(default_runs_folder() / f"{self.dataset}-{self.kind.currentData()}")))


class LinearFitAction(QObject):
    """The menu action and the fit it starts; the window opens the run when it is written."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.dialog: LinearFitDialog | None = None
        self.task: Task | None = None
        self.images = None  # the images being fitted, shown with the run it gives
        self.action = QAction("Fit PCA / factor analysis of this data…", window)
        self.action.setStatusTip("Fit a linear latent model to the images shown and open it as a run")
        self.action.triggered.connect(self.ask)
        self.session.opened.runChanged.connect(self._enable)
        self._enable()

    def _enable(self) -> None:
        self.action.setEnabled(self.session.opened.has_run and self.task is None)

    def ask(self) -> None:
        s = self.session
        if not s.opened.has_run:
            return
        c, h, w = s.opened.images.image_shape
        self.dialog = LinearFitDialog(s.opened.run.config.data.name, c * h * w, max(2, s.opened.latent_dim), self.window)
        self.dialog.accepted.connect(self._accepted)
        self.dialog.open()

    def _accepted(self) -> None:
        d = self.dialog
        self.fit(d.kind.currentData(), d.latent_dim.value(), Path(d.out.text()).expanduser())

    def fit(self, kind: str, latent_dim: int, out: Path) -> None:
        """Fit on the session's images (their training split) in a worker, then open the run."""
        from latentexplorer.training.linear_fit import fit_linear_run

        s = self.session
        if self.task is not None or not s.opened.has_run:
            return
        if is_run_folder(out):
            s.report_error(f"{out} already holds a run; choose another folder")
            return
        try:
            config = RunConfig(
                model=ModelConfig(kind=kind, image_shape=s.opened.images.image_shape, latent_dim=latent_dim),
                data=s.opened.run.config.data, name=out.name,
            )
        except Exception as exc:  # ConfigError: shown, nothing changes
            s.report_error(str(exc))
            return
        self.images = s.opened.images
        self.task = s.tasks.start(fit_linear_run, config, out, images=s.opened.images, name="linear-fit")
        self.task.result.connect(self._fitted)
        self.task.failed.connect(self._failed)
        s.report_busy(True, f"fitting {kind.upper()} ({latent_dim} components) to {len(s.opened.images):,} images…")
        self._enable()

    def _finish_task(self) -> None:
        if self.task is not None:
            self.task.wait()
            self.task = None
        self.session.report_busy(False, "")
        self._enable()

    @Slot(object)
    def _fitted(self, fit) -> None:
        self._finish_task()
        if self.window.session.open_run(fit.folder, images=self.images):
            self.window.remember_run(str(fit.folder.resolve()))
        self.images = None

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._finish_task()
        self.session.report_error(f"fitting failed: {message}")

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.wait()
