"""The training tab: train AE / VAE / β-VAE in a worker thread (the core Trainer), watch the
losses, the KL per dimension and the latent space change live, then open the run.

objectName `trainingTab`; the loss plot is `lossPlot`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.checkpoint import Run, is_run_folder, read_config
from latentexplorer.data import ImageSet
from latentexplorer.errors import UserError
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.training.training_form import TrainingForm, expected_shape
from latentexplorer.gui.workers import FOLLOW_ITEMS, EpochSnapshot, TrainingRun

REDRAW_MS = 250
MAX_SNAPSHOT_BYTES = 256 * 2**20

SERIES = {  # key: (label, colour, dashed)
    "total": ("total loss", (0, 114, 178), False),
    "recon": ("reconstruction −log p(x|z)", (0, 158, 115), False),
    "kl": ("KL (raw)", (213, 94, 0), False),
    "reg": ("β·KL (as in the loss)", (204, 121, 167), True),
}


class LossPlot(QWidget):
    """Training curves per step and validation per epoch; redrawn on a timer, not per step."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lossPlot")
        self.plot = pg.PlotWidget(background="w")
        self.plot.addLegend(offset=(-10, 10))
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "nats per item")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        item = self.plot.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        self.curves = {}
        for key, (label, colour, dashed) in SERIES.items():
            style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
            self.curves[key] = self.plot.plot([], [], name=label, pen=pg.mkPen(colour, width=2, style=style))
        self.val_curve = self.plot.plot([], [], name="validation total (per epoch)", pen=None,
                                        symbol="o", symbolBrush=(0, 0, 0), symbolSize=7)
        self.log = QCheckBox("log scale")
        self.log.setToolTip("Logarithmic loss axis: small late improvements stay visible")
        self.log.toggled.connect(lambda on: self.plot.setLogMode(y=on))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.log)
        self.clear()
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self._redraw_if_shown)
        self.timer.start()

    def _redraw_if_shown(self) -> None:
        """The timer's redraw, skipped while the plot is hidden (another tab in front): its
        curves' setData cost the GUI thread milliseconds each time, and on two cores every
        millisecond the GUI thread computes is taken from the training loop. `showEvent`
        catches up."""
        if self.isVisible():
            self.redraw()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.redraw()

    def clear(self) -> None:
        self.x: list[float] = []
        self.series: dict[str, list[float]] = {k: [] for k in SERIES}
        self.val_x: list[float] = []
        self.val_y: list[float] = []
        self._dirty = True
        self.redraw()

    def add_step(self, progress: float, values: dict[str, float]) -> None:
        self.x.append(progress)
        for key in SERIES:
            self.series[key].append(values[key])
        self._dirty = True

    def add_epoch(self, epoch: float, val_total: float) -> None:
        self.val_x.append(epoch)
        self.val_y.append(val_total)
        self._dirty = True

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        x = np.asarray(self.x, float)
        for key, curve in self.curves.items():
            curve.setData(x, np.asarray(self.series[key], float))
        self.val_curve.setData(np.asarray(self.val_x, float), np.asarray(self.val_y, float))

    def show_history(self, steps: list[dict], history: list[dict]) -> None:
        """A finished run's curves from its steps.csv and history.csv."""
        self.clear()
        for row in steps:
            self.add_step(row.get("progress", row.get("step", 0.0)), {k: row.get(k, np.nan) for k in SERIES})
        for row in history:
            self.add_epoch(row["epoch"], row.get("val_total", np.nan))
        self.redraw()


class KLBars(QWidget):
    """KL per latent dimension (validation, per epoch): units switching on and off."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("klBars")
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "latent dimension")
        self.plot.setLabel("left", "KL (nats)")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=(0, 114, 178))
        self.plot.addItem(self.bars)
        self.caption = QLabel("KL per dimension; a bar near 0 is an inactive unit (posterior collapse)")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.caption)
        self.values = np.zeros(0)

    def show_values(self, values, epoch: int | None = None) -> None:
        self.values = np.asarray(values, float)
        self.bars.setOpts(x=np.arange(len(self.values)), height=self.values, width=0.7)
        if epoch is not None:
            active = int((self.values > 0.01).sum())
            self.caption.setText(f"KL per dimension after epoch {epoch}: {active} of "
                                 f"{len(self.values)} above 0.01 nats")


class TrainingTab(QWidget):
    """objectName `trainingTab`."""

    runFinished = Signal(object)  # TrainResult
    runFailed = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingTab")
        self.session = session
        self.settings = QSettings()
        self.run: TrainingRun | None = None
        self.out: Path | None = None
        self.config = None
        self.follow_images: ImageSet | None = None
        self.snapshots: list[EpochSnapshot] = []
        self._previous: tuple | None = None
        self._showing_training = False
        self._first_step = 0
        self.warmed_up = TorchWarmUp()
        self.form = TrainingForm()
        self.form.restore_settings(self.settings)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train with these settings in the background")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Pause after the current batch; press again to resume")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop within one batch; the last complete epoch is kept")
        self.continue_button = QPushButton("Continue a run…")
        self.continue_button.setToolTip("Load a run folder's settings and train it further")
        self.open_button = QPushButton("Open in explorer")
        self.open_button.setToolTip("Show the trained run in the Explorer tab")
        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.stop_button.clicked.connect(self.stop)
        self.continue_button.clicked.connect(self.continue_dialog)
        self.open_button.clicked.connect(self.open_in_explorer)
        self.progress = QProgressBar()
        self.progress_text = QLabel("Ready.")
        self.progress_text.setObjectName("trainingStatus")
        self.progress_text.setWordWrap(True)
        self.message = QLabel()
        self.message.setObjectName("trainingMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020")
        self.follow = QCheckBox("Follow training in the explorer")
        self.follow.setToolTip("After each epoch the Explorer shows the model in training "
                               f"(on up to {FOLLOW_ITEMS:,} items); off returns it to the model it had")
        self.follow.setChecked(True)
        self.follow.toggled.connect(self._follow_toggled)
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setToolTip("Show the model as it was after each epoch of this run")
        self.scrub.setEnabled(False)
        self.scrub.valueChanged.connect(self._scrubbed)
        self.scrub_label = QLabel("epoch —")
        self.loss_plot = LossPlot()
        self.kl_bars = KLBars()
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button, self.continue_button, self.open_button):
            buttons.addWidget(b)
        scrub_row = QHBoxLayout()
        scrub_row.addWidget(self.follow)
        scrub_row.addWidget(QLabel("Scrub epochs"))
        scrub_row.addWidget(self.scrub, 1)
        scrub_row.addWidget(self.scrub_label)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        form_scroll = QScrollArea()
        form_scroll.setWidgetResizable(True)
        form_scroll.setWidget(self.form)
        left_layout.addWidget(form_scroll, 1)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.progress)
        left_layout.addWidget(self.progress_text)
        left_layout.addWidget(self.message)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.loss_plot)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.addWidget(self.kl_bars, 1)
        bottom_layout.addLayout(scrub_row)
        right.addWidget(bottom)
        right.setSizes([520, 300])
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([430, 1000])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._set_running(False)
        self.open_button.setEnabled(False)
        session.opened.runChanged.connect(self._session_run_changed)
        session.colouring.mixtureChanged.connect(self._ask_for_mixtures)  # K set, or chosen by BIC

    def showEvent(self, event: QShowEvent) -> None:
        """A user who opens this tab is about to train: pay torch's warm-up now."""
        self.warmed_up.start()
        super().showEvent(event)

    # --- state -----------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.run is not None and self.run.is_running()

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.continue_button.setEnabled(not running)
        self.form.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        if not running:
            self.pause_button.setChecked(False)

    # --- starting ---------------------------------------------------------------------------

    def start(self, resume: bool = False) -> bool:
        """Validate the form, then train in a worker thread. False (with a message) if invalid."""
        if self.is_running():
            self._say("a run is already in progress; stop it first")
            return False
        try:
            config = self.form.run_config()
            out = Path(self.form.out.text()).expanduser()
            if resume:
                saved = read_config(out)
                shape = expected_shape(config)
                if shape is not None and shape != saved.model.image_shape:
                    raise UserError(f"the data have images of shape {shape}, but the run expects "
                                    f"{saved.model.image_shape}")
            elif is_run_folder(out):
                raise UserError(f"{out} already holds a run: choose another output folder, or "
                                "use Continue a run…")
        except UserError as exc:
            self._say(str(exc))
            return False
        self.message.clear()
        self.form.save_settings(self.settings)
        self.out, self.config = out, config
        self.snapshots = []
        self.loss_plot.clear()
        self.kl_bars.show_values([])
        self.scrub.setEnabled(False)
        self._previous = (self.session.opened.run, self.session.opened.images) if self.session.opened.has_run else None
        self.run = TrainingRun(None if resume else config, out, resume=resume,
                               epochs=config.train.epochs if resume else None, parent=self)
        worker = self.run.worker
        worker.started.connect(self._started)
        worker.step.connect(self._step)
        worker.epoch.connect(self._epoch)
        worker.finished.connect(self._finished)
        worker.failed.connect(self._failed)
        self._ask_for_mixtures()
        self._set_running(True)
        self.progress.setValue(0)
        self.progress_text.setText("Preparing data and model…")
        self._started_at = time.perf_counter()
        self.run.start()
        return True

    def continue_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Run folder to continue")
        if folder:
            self.continue_run(folder)

    def continue_run(self, folder: str | Path, epochs: int | None = None) -> bool:
        """Load a run's configuration into the form and resume it (more epochs if given)."""
        if self.is_running():
            self._say("a run is already in progress; stop it first")
            return False
        try:
            config = read_config(folder)
        except UserError as exc:
            self._say(str(exc))
            return False
        self.form.load_config(config, out=folder)
        if epochs is not None:
            self.form.epochs.setValue(epochs)
        return self.start(resume=True)

    # --- progress (slots in the GUI thread) ------------------------------------------------

    @Slot(object)
    def _started(self, config) -> None:
        self.config = config
        trainer = self.run.worker.trainer
        self.follow_images = self.run.worker.follow_images
        self.steps_per_epoch = trainer.steps_per_epoch()
        self.progress.setRange(0, config.train.epochs * self.steps_per_epoch)
        self.progress.setValue(trainer.step)
        self._first_step = trainer.step
        self._started_at = time.perf_counter()
        if trainer.history:  # a resumed run: show what it has done so far
            self.loss_plot.show_history(trainer.steps_log, trainer.history)

    @Slot(object)
    def _step(self, m) -> None:
        self.loss_plot.add_step(m.progress, {"total": m.total, "recon": m.recon, "kl": m.kl, "reg": m.reg})
        self.progress.setValue(m.step)
        done = m.step - self._first_step
        remaining = self.progress.maximum() - m.step
        rate = (time.perf_counter() - self._started_at) / max(done, 1)
        self.progress_text.setText(
            f"epoch {m.epoch + 1}/{m.epochs}, step {m.step:,}/{self.progress.maximum():,}, "
            f"{m.samples_per_s:,.0f} samples/s, ETA {_duration(remaining * rate)}  ·  "
            f"loss {m.total:.3f}, KL {m.kl:.3f}, KL weight {m.kl_weight:.2f}"
        )

    @Slot(object, object)
    def _epoch(self, m, snapshot: EpochSnapshot) -> None:
        self.loss_plot.add_epoch(m.epoch, m.val_total)
        self.kl_bars.show_values(m.kl_per_dim, m.epoch)
        self._keep_snapshot(snapshot)
        if self.follow.isChecked():
            self._show_model(snapshot)

    def _keep_snapshot(self, snapshot: EpochSnapshot) -> None:
        if snapshot.nbytes() * (len(self.snapshots) + 1) > MAX_SNAPSHOT_BYTES and self.snapshots:
            self.snapshots = self.snapshots[::2]  # thin out: keep every other epoch
        self.snapshots.append(snapshot)
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, len(self.snapshots) - 1)
        self.scrub.setValue(len(self.snapshots) - 1)
        self.scrub.blockSignals(False)
        self.scrub.setEnabled(True)
        self.scrub_label.setText(f"epoch {snapshot.epoch}")

    def _show_model(self, snapshot: EpochSnapshot) -> None:
        if self.config is None or self.follow_images is None:
            return
        run = Run(folder=self.out, config=self.config, model=snapshot.model,
                  state={"epoch": snapshot.epoch, "training": True})
        self._showing_training = True
        try:
            self.session.follow_model(run, self.follow_images, (snapshot.mu, snapshot.logvar), snapshot.mixtures)
        finally:
            self._showing_training = False

    def _ask_for_mixtures(self) -> None:
        """Have the training thread fit each snapshot's codes with the explorer's K (none while
        not following, or when the explorer picks K by BIC: that is many fits, left to a worker)."""
        if self.run is not None:
            colouring = self.session.colouring
            self.run.worker.follow_k = colouring.k if self.follow.isChecked() and not colouring.auto_k else None

    def _scrubbed(self, index: int) -> None:
        if 0 <= index < len(self.snapshots):
            snapshot = self.snapshots[index]
            self.scrub_label.setText(f"epoch {snapshot.epoch}")
            self._show_model(snapshot)

    def _follow_toggled(self, on: bool) -> None:
        self._ask_for_mixtures()
        if on and self.snapshots:
            self._show_model(self.snapshots[-1])
        elif not on:
            self._restore_previous()

    def _restore_previous(self) -> None:
        if self._previous is not None and self.session.opened.run is not None and self.session.opened.run.folder == self.out:
            run, images = self._previous
            self._showing_training = True
            try:
                self.session.use_model(run, images)
            finally:
                self._showing_training = False

    @Slot(object)
    def _finished(self, result) -> None:
        self._set_running(False)
        self.open_button.setEnabled(self.out is not None and is_run_folder(self.out))
        if result.status == "completed":
            self.progress.setValue(self.progress.maximum())
        self.progress_text.setText(f"{result.status}: {result.message} — run folder {self.out}")
        if result.status == "cancelled":
            self.message.setText(f"Stopped. The last complete epoch ({result.epochs_done}) is saved.")
        self.loss_plot.redraw()
        self._restore_previous()
        self.runFinished.emit(result)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._set_running(False)
        self.open_button.setEnabled(self.out is not None and is_run_folder(self.out))
        self._say(message)
        self.progress_text.setText("Training stopped.")
        self._restore_previous()
        self.runFailed.emit(message)

    def _say(self, message: str) -> None:
        self.message.setText(message)

    # --- controls ---------------------------------------------------------------------------

    def _pause_toggled(self, paused: bool) -> None:
        if self.run is None:
            return
        if paused:
            self.run.worker.pause()
            self.pause_button.setText("Resume")
            self.progress_text.setText(self.progress_text.text() + "  ·  paused")
        else:
            self.run.worker.resume_running()
            self.pause_button.setText("Pause")

    def stop(self) -> None:
        """Ask the worker to stop; it ends within one batch and `_finished` follows."""
        if self.run is not None:
            self.run.worker.stop()
            self.progress_text.setText("Stopping after this batch…")

    def shutdown(self, msecs: int = 60_000) -> bool:
        """Stop and join the thread (window closing). True when no thread is left running."""
        if self.run is None:
            return True
        return self.run.stop_and_wait(msecs)

    def open_in_explorer(self) -> bool:
        if self.out is None or not is_run_folder(self.out):
            return False
        return self.session.open_run(self.out)

    def _session_run_changed(self) -> None:
        """Opening a run in the explorer shows its recorded curves and KL per dimension."""
        if self._showing_training or self.is_running():
            return
        run = self.session.opened.run
        if run is None or not run.history or not Path(run.folder).is_dir():
            return
        self.loss_plot.show_history(run.steps(), run.history)
        last = run.history[-1]
        kl = [last[k] for k in sorted((k for k in last if k.startswith("kl_dim_")), key=lambda k: int(k[7:]))]
        self.kl_bars.show_values(kl, int(last.get("epoch", 0)))
        self.progress_text.setText(f"Curves of {run.name} ({len(run.history)} epochs), from its history.")


class TorchWarmUp:
    """Pays torch's one-time training costs (the first optimizer imports torch._dynamo, ~1 s
    holding the GIL; the first backward starts autograd) in a background thread while the
    window is idle, so they never stall the GUI once a run starts.

    Started when the tab is first shown (a user about to train) or by `wait`, not with the
    window: it holds the GIL for ~1 s while the app starts and adds ~200 MB (torch._dynamo)
    to an app that may only explore."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="training-warm-up", daemon=True)
                self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def is_set(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Start the warm-up if nothing has yet, then wait for it; True once done."""
        self.start()
        return self._done.wait(timeout)

    def _work(self) -> None:
        try:
            import torch

            layer = torch.nn.Linear(4, 4)
            optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
            layer(torch.zeros(2, 4)).sum().backward()
            optimizer.step()
        finally:
            self._done.set()


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"
