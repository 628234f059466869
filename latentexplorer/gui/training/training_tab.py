"""The training tab: train AE / VAE / β-VAE in a worker thread (the core Trainer), watch the
losses, the KL per dimension and the latent space change live, then open the run.

objectName `trainingTab`; the loss plot is `lossPlot`.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal, Slot
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
from latentexplorer.gui.tasks import Task
from latentexplorer.gui.training.training_form import TrainingForm, expected_shape
from latentexplorer.gui.training.training_plots import KLBars, LossPlot
from latentexplorer.gui.training.training_task import train_in_task
from latentexplorer.training.live import FOLLOW_ITEMS, EpochSnapshot, LiveTraining, TrainingStart
from latentexplorer.training.warm_up import TorchWarmUp

MAX_SNAPSHOT_BYTES = 256 * 2**20
PROGRESS_EVERY_S = 0.25  # the progress bar and line follow the steps at most 4 times a second


class TrainingTab(QWidget):
    """objectName `trainingTab`."""

    runFinished = Signal(object)  # TrainResult
    runFailed = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingTab")
        self.session = session
        self.settings = QSettings()
        self.run: Task | None = None  # the training task, while and after it runs
        self.live: LiveTraining | None = None  # the run it trains: pause, follow K, trainer
        self.out: Path | None = None
        self.config = None
        self.follow_images: ImageSet | None = None
        self.snapshots: list[EpochSnapshot] = []
        self._previous: tuple | None = None
        self._showing_training = False
        self._first_step = 0
        self._latest_step = None  # the newest step report (its progress is shown a few times a second)
        self._progress_shown_at = 0.0
        self.warmed_up = TorchWarmUp(lambda work: session.tasks.start(work, name="warm-up"))
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
        self.notes = QLabel()  # what the run chose or lacks (precision, TensorBoard): not errors
        self.notes.setObjectName("trainingNotes")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #555555")
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
        left_layout.addWidget(self.notes)
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
        self._session_run_changed()  # built after a run was opened (the window builds it late)

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
        self.notes.clear()
        self.form.save_settings(self.settings)
        self.out, self.config = out, config
        self.snapshots = []
        self.loss_plot.clear()
        self.kl_bars.show_values([])
        self.scrub.setEnabled(False)
        self._previous = (self.session.opened.run, self.session.opened.images) if self.session.opened.has_run else None
        self.live = LiveTraining(None if resume else config, out, resume=resume,
                                 epochs=config.train.epochs if resume else None)
        self._ask_for_mixtures()  # before the first epoch can ask for it
        self.run = self.session.tasks.start(train_in_task, self.live, name="training", context=True,
                                            role="training", threads=self.live.threads)
        self.run.yielded.connect(self._record)
        self.run.result.connect(self._finished)
        self.run.failed.connect(self._failed)
        self._set_running(True)
        self.progress.setValue(0)
        self.progress_text.setText("Preparing data and model…")
        self._started_at = time.perf_counter()
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
    def _record(self, record: tuple) -> None:
        """One record of the training thread (see training.live), in order."""
        kind, value = record
        if kind == "step":
            self._step(value)
        elif kind == "epoch":
            self._epoch(*value)
        elif kind == "started":
            self._started(value)
        elif kind == "note":  # the precision chosen and why; how to turn TensorBoard logging on
            self.notes.setText("\n".join(filter(None, (self.notes.text(), value))))

    def _started(self, start: TrainingStart) -> None:
        self.config = start.config
        self.follow_images = self.live.follow_images
        self.steps_per_epoch = start.steps_per_epoch
        self.progress.setRange(0, self.config.train.epochs * self.steps_per_epoch)
        self.progress.setValue(start.step)
        self._first_step = start.step
        self._started_at = time.perf_counter()
        self._latest_step, self._progress_shown_at = None, 0.0
        if start.history:  # a resumed run: show what it had done before
            self.loss_plot.show_history(list(start.steps_log), list(start.history))

    def _step(self, m) -> None:
        """A step report: the loss curve takes every one; the progress bar and its line, a few
        times a second (each update repaints them, GUI-thread work taken from the training
        loop's cores 20+ times a second for a change no one can read)."""
        self.loss_plot.add_step(m.progress, {"total": m.total, "recon": m.recon, "kl": m.kl, "reg": m.reg})
        self._latest_step = m
        now = time.perf_counter()
        if now - self._progress_shown_at >= PROGRESS_EVERY_S:
            self._progress_shown_at = now
            self._show_progress(m)

    def _show_progress(self, m) -> None:
        self.progress.setValue(m.step)
        done = m.step - self._first_step
        remaining = self.progress.maximum() - m.step
        rate = (time.perf_counter() - self._started_at) / max(done, 1)
        self.progress_text.setText(
            f"epoch {m.epoch + 1}/{m.epochs}, step {m.step:,}/{self.progress.maximum():,}, "
            f"{m.samples_per_s:,.0f} samples/s, ETA {_duration(remaining * rate)}  ·  "
            f"loss {m.total:.3f}, KL {m.kl:.3f}, KL weight {m.kl_weight:.2f}"
        )

    def _epoch(self, m, snapshot: EpochSnapshot) -> None:
        if self._latest_step is not None:  # the epoch's last report, and the bar at its end
            self._show_progress(self._latest_step)
        self.progress.setValue(m.step)
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
        if self.live is not None:
            colouring = self.session.colouring
            self.live.follow_k = colouring.k if self.follow.isChecked() and not colouring.auto_k else None

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
        if self._latest_step is not None:
            self._show_progress(self._latest_step)
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
        if self.live is None:
            return
        if paused:
            self.live.pause()
            self.pause_button.setText("Resume")
            self.progress_text.setText(self.progress_text.text() + "  ·  paused")
        else:
            self.live.resume_running()
            self.pause_button.setText("Pause")

    def stop(self) -> None:
        """Ask the worker to stop; it ends within one batch and `_finished` follows."""
        if self.run is not None:
            self._stop_run()
            self.progress_text.setText("Stopping after this batch…")

    def shutdown(self, msecs: int = 60_000) -> bool:
        """Stop and join the thread (window closing). True when no thread is left running."""
        if self.run is None:
            return True
        self._stop_run()
        return self.run.wait(msecs)

    def _stop_run(self) -> None:
        """Cancel (seen within one batch, also by a paused run); the result of the epochs kept
        still arrives as `_finished`."""
        self.run.cancel()
        self.live.resume_running()

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


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"
