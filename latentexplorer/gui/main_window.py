"""The main window: menus, the explorer tab (controls, scatter, preview, sliders), status bar.

It assembles views around one Session and routes menu actions to it; the views never
talk to each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.gui.compute_threads import collect_garbage_in_gui_thread, keep_gui_thread_serial
from latentexplorer.gui.explorer.decoder_guard import DecoderGuard
from latentexplorer.gui.explorer.explorer_controls import ExplorerControls
from latentexplorer.gui.explorer.map_layers import MapLayersView
from latentexplorer.gui.explorer.preview_pane import DecoderPreview
from latentexplorer.gui.explorer.scatter_view import LatentScatter
from latentexplorer.gui.explorer.sliders_panel import PerturbationSliders
from latentexplorer.gui.explorer.text_search import TextSearchPanel
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.training.linear_fit_action import LinearFitAction
from latentexplorer.gui.widgets import images as im
from latentexplorer.gui.widgets.dialogs import OpenDatasetDialog, show_bic_curve, show_image_dialog
from latentexplorer.gui.widgets.lazy_tabs import LazyTabs
from latentexplorer.gui.widgets.open_model_dialog import OpenModelDialog
from latentexplorer.gui.widgets.recent_menu import RecentMenu
from latentexplorer.gui.widgets.window_size import default_window_size
from latentexplorer.gui.window_exports import WindowExports
from latentexplorer.opening import ModelSpec
from latentexplorer.version import __version__

if TYPE_CHECKING:
    from latentexplorer.gui.clustering.clustering_tab import ClusteringTab
    from latentexplorer.gui.compare.compare_tab import CompareTab
    from latentexplorer.gui.evaluation.evaluation_tab import EvaluationTab
    from latentexplorer.gui.training.training_tab import TrainingTab

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


class MainWindow(QMainWindow):
    closed = Signal()  # the window accepted a close (a notebook's handle forgets it)

    def __init__(self, session: Session | None = None) -> None:
        super().__init__()
        keep_gui_thread_serial()  # training and encoding threads keep every core
        collect_garbage_in_gui_thread()  # never in a worker: Qt objects die in their thread
        self.setObjectName("mainWindow")
        self.session = session or Session(self)
        self.settings = QSettings()
        self.last_error: str = ""
        self.error_box: QMessageBox | None = None
        self.controls = ExplorerControls(self.session)
        self.scatter = LatentScatter(self.session)
        self.preview = DecoderPreview(self.session)
        self.sliders = PerturbationSliders(self.session)
        self.map_layers = MapLayersView(self.session, self.scatter, self)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.controls)
        self.text_search = TextSearchPanel(self.session)  # caption search, for CLIP runs only
        left_layout.addWidget(self.text_search)
        left_layout.addWidget(self.scatter, 1)
        left_layout.addWidget(self.map_layers.panel)
        right = QSplitter(Qt.Orientation.Vertical)
        preview_scroll = QScrollArea()  # a wide strip scrolls instead of growing the window
        preview_scroll.setWidgetResizable(True)
        preview_scroll.setWidget(self.preview)
        right.addWidget(preview_scroll)
        right.addWidget(self.sliders)
        right.setSizes([620, 260])
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([820, 660])
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.addTab(splitter, "Explorer")
        self.lazy_tabs = LazyTabs(self.tabs)  # built on first show or access: not in the first frame
        for name, label in LAZY_TABS.items():
            self.lazy_tabs.add(name, label, lambda name=name: build_tab(name, self.session))
        self.setCentralWidget(self.tabs)
        self.status = QLabel()
        self.status.setObjectName("statusText")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(160)
        self.busy.hide()
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.busy)
        self.create_actions()
        self.create_menus()
        self.setAcceptDrops(True)
        self.resize(default_window_size(self.screen()))
        self.read_settings()
        self.session.opened.runChanged.connect(self._run_changed)
        self.session.view.projectionChanged.connect(self._update_status)
        self.session.colouring.mixtureChanged.connect(self._update_status)
        self.session.errorOccurred.connect(self.show_error)
        self.session.busyChanged.connect(self._busy)
        self.session.encodeProgress.connect(self._encode_progress)
        self.controls.bic.clicked.connect(self.show_bic)
        self.controls.prior.clicked.connect(lambda: self.session.selection.sample_prior(6))
        self.controls.manifold.clicked.connect(self.show_manifold)
        self.controls.draw.clicked.connect(self.show_drawing_pad)
        self.controls.directions.clicked.connect(self.show_attribute_vectors)
        self.drawing_pad = None
        self.attribute_vectors = None
        self.model_dialog: OpenModelDialog | None = None
        self.decoder_guard = DecoderGuard(self)
        self._run_changed()
        self.session.announce()  # a session opened before the window was built

    # --- actions and menus -----------------------------------------------------------------

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def create_actions(self) -> None:
        a = self._action
        self.exports = WindowExports(self)
        self.open_action = a("&Open run…", self.open_run_dialog, QKeySequence.StandardKey.Open,
                             "Open a run folder (config.json + model.safetensors)")
        self.open_model_action = a("Open &model…", lambda: self.open_model_dialog(), "Ctrl+Shift+O",
                                   "Open your own PyTorch VAE or autoencoder with its weights and data")
        self.open_data_action = a("Open &dataset…", self.open_dataset_dialog, None,
                                  "Encode another dataset with the current model")
        self.open_sweep_action = a("Open β &sweep…", self.open_sweep_dialog, None,
                                   "Plot reconstruction, KL and MIG of a β sweep and open its runs")
        self.export_codes_action = a("Export &codes…", self.exports.export_codes, None,
                                     "Save μ, log σ², labels and responsibilities as NPZ or CSV")
        self.export_scatter_action = a("Export &scatter…", self.exports.export_scatter, None,
                                       "Save the scatter as PNG or SVG")
        self.export_preview_action = a("Export &preview…", self.exports.export_preview, QKeySequence.StandardKey.Save,
                                       "Save the current preview as PNG")
        self.export_projector_action = a("Export p&rojector…", lambda: self.exports.export_projector(), None,
                                         "Save μ, labels, GMM components and a sprite for TensorBoard's Embedding Projector")
        self.quit_action = a("&Quit", self.close, QKeySequence.StandardKey.Quit, "Quit LatentExplorer")
        self.copy_action = a("&Copy preview", self.exports.copy_preview, QKeySequence.StandardKey.Copy,
                             "Copy the current preview image to the clipboard")
        self.clear_action = a("Clear selection", self.session.selection.clear, Qt.Key.Key_Escape,
                              "Clear the selection and the preview")
        self.prior_action = a("Sample from &prior", lambda: self.session.selection.sample_prior(6), None,
                              "Decode z ~ N(0, I)")
        self.manifold_action = a("&Manifold mosaic…", self.show_manifold, None,
                                 "Decode a grid through the inverse Gaussian CDF (2-D latents)")
        self.traversal_action = a("&Traversal grid…", self.sliders.show_traversal, None,
                                  "Sweep each active dimension (the β-VAE figure)")
        self.bic_action = a("&BIC curve…", self.show_bic, None, "BIC of the mixture for K = 1…15")
        self.draw_action = a("&Draw your own input…", self.show_drawing_pad, "Ctrl+D",
                             "Draw an image or drop a file; it is encoded live")
        self.directions_action = a("&Attribute vectors…", self.show_attribute_vectors, None,
                                   "A direction between two groups' mean codes, applied to the selection")
        self.about_action = a("&About LatentExplorer", self.about, None, "Version and licence")
        self.linear_fit = LinearFitAction(self)

    def create_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addAction(self.open_action)
        file.addAction(self.open_model_action)
        self.recent = RecentMenu(file.addMenu("Open &recent"), self.settings, self.open_run,
                                 self.open_model_dialog)
        file.addAction(self.open_data_action)
        file.addAction(self.open_sweep_action)
        file.addAction(self.linear_fit.action)
        file.addSeparator()
        for action in (self.export_codes_action, self.export_scatter_action, self.export_preview_action,
                       self.export_projector_action):
            file.addAction(action)
        file.addSeparator()
        file.addAction(self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addAction(self.copy_action)
        edit.addAction(self.clear_action)
        view = bar.addMenu("&View")
        for action in (self.prior_action, self.manifold_action, self.traversal_action, self.bic_action,
                       self.draw_action, self.directions_action):
            view.addAction(action)
        bar.addMenu(self.map_layers.menu)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    # --- the tabs besides the Explorer, built on first show or access ------------------------

    @property
    def training(self) -> TrainingTab:
        return self.lazy_tabs.get("training")

    @property
    def evaluation(self) -> EvaluationTab:
        return self.lazy_tabs.get("evaluation")

    @property
    def clustering(self) -> ClusteringTab:
        return self.lazy_tabs.get("clustering")

    @property
    def compare(self) -> CompareTab:
        return self.lazy_tabs.get("compare")

    # --- opening ---------------------------------------------------------------------------

    def open_run(self, folder: str | Path) -> bool:
        ok = self.session.open_run(folder)
        if ok:
            self.remember_run(str(Path(folder).resolve()))
        return ok

    def open_run_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open run folder", self.recent.last_folder())
        if folder:
            self.open_run(folder)

    def open_model_dialog(self, spec: ModelSpec | None = None) -> OpenModelDialog:
        """File ▸ Open model…: the dialog opens the model (errors stay in it); the window shows it."""
        dialog = OpenModelDialog(self.settings, self)
        if spec is not None:
            dialog.fill(spec)
        dialog.accepted.connect(lambda: self._show_opened_model(dialog))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self.model_dialog = dialog
        return dialog

    def _show_opened_model(self, dialog: OpenModelDialog) -> None:
        self.session.use_model(*dialog.opened)
        self.recent.fill()

    def remember_model(self, run) -> None:
        """A user's model opened from the command line is offered again in Open recent."""
        if "spec" in run.state:
            self.recent.remember_model(ModelSpec.from_json(run.state["spec"]))

    def open_sweep_dialog(self) -> None:
        from latentexplorer.gui.training.sweep_view import open_sweep_dialog

        open_sweep_dialog(self)

    def open_dataset_dialog(self) -> None:
        dialog = OpenDatasetDialog(self.session, self)
        if dialog.exec():
            self.session.open_dataset(dialog.data_config())

    def recent_runs(self) -> list[str]:
        return self.recent.runs()

    def remember_run(self, folder: str) -> None:
        """Put a run folder first in File ▸ Open recent."""
        self.recent.remember_run(folder)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """A run folder (or a file in one) opens that run; an image file is encoded as the
        user's own input, in the drawing pad."""
        urls = event.mimeData().urls()
        if urls:
            path = Path(QUrl(urls[0]).toLocalFile())
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and self.session.opened.has_run:
                self.show_drawing_pad()
                self.drawing_pad.load_file(path)
            else:
                self.open_run(path.parent if path.is_file() else path)
            event.acceptProposedAction()

    # --- reactions ---------------------------------------------------------------------------

    def _run_changed(self) -> None:
        s = self.session
        if s.opened.has_run:
            self.setWindowTitle(f"{s.opened.run.name} — {s.opened.images.name} — LatentExplorer")
        else:
            self.setWindowTitle("LatentExplorer")
        for action in (self.export_codes_action, self.export_scatter_action, self.prior_action,
                       self.traversal_action, self.bic_action, self.open_data_action, self.draw_action,
                       self.directions_action, self.export_projector_action):
            action.setEnabled(s.opened.has_run)
        self.manifold_action.setEnabled(s.opened.has_run and s.opened.latent_dim == 2 and s.opened.run.config.model.is_variational)
        self._update_status()

    def _update_status(self) -> None:
        self.status.setText(self.session.describe())

    def _busy(self, busy: bool, message: str) -> None:
        self.busy.setVisible(busy)
        self.busy.setToolTip(message)
        self.busy.setRange(0, 0)  # indeterminate, unless progress follows
        if busy:
            self.statusBar().showMessage(message)
        else:
            self.statusBar().clearMessage()

    def _encode_progress(self, done: int, total: int) -> None:
        self.busy.setRange(0, total)
        self.busy.setValue(done)
        self.busy.setFormat(f"encoding %p% of {total:,}")
        self.busy.setTextVisible(True)

    def show_error(self, message: str) -> None:
        """A window-modal message that does not block the event loop."""
        self.last_error = message
        box = QMessageBox(QMessageBox.Icon.Warning, "LatentExplorer", message, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorBox")
        box.open()
        self.error_box = box

    def about(self) -> None:
        QMessageBox.about(
            self, "About LatentExplorer",
            f"<b>LatentExplorer {__version__}</b><p>Train and explore the latent spaces of "
            "autoencoders, VAEs and β-VAEs.</p><p>MIT licence.</p>",
        )

    # --- views and exports -------------------------------------------------------------------

    def show_bic(self) -> None:
        """The BIC of the mixture for K = 1…15: fitted in a task the first time, then kept."""
        s = self.session
        if not s.opened.has_run:
            return
        if s.colouring.bic:
            self._show_bic_curve(s.colouring.bic)
            return
        s.report_busy(True, "fitting mixtures for K = 1…15 to draw the BIC curve…")
        task = s.tasks.start(bic_curve_of_codes, s.opened.mu, name="bic-curve")
        task.result.connect(self._bic_fitted)
        task.failed.connect(lambda message: s.report_error(f"the BIC curve failed: {message}"))
        task.finished.connect(lambda: s.report_busy(False))

    def _bic_fitted(self, curve: dict[int, float]) -> None:
        self.session.colouring.set_bic(curve)
        self._show_bic_curve(curve)

    def _show_bic_curve(self, curve: dict[int, float]) -> None:
        self.bic_dialog = show_bic_curve(curve, self.session.colouring.k, self)

    def show_manifold(self) -> None:
        s = self.session
        if not s.opened.has_run or s.opened.latent_dim != 2:
            return
        mosaic = s.opened.manifold(15)
        grid = im.tile(mosaic.reshape(-1, *mosaic.shape[2:]), columns=15, size=40, gap=1)
        self.manifold_dialog = show_image_dialog(
            grid, "Manifold mosaic",
            "Decodes of a 15×15 grid of z placed through the inverse Gaussian CDF: every cell holds "
            "the same prior probability mass (Kingma & Welling 2014, Fig. 4).", self, s.opened.provenance(),
        )

    def show_drawing_pad(self) -> None:
        from latentexplorer.gui.explorer.drawing_pad import DrawingPad

        if not self.session.opened.has_run:
            return
        if self.drawing_pad is None:
            self.drawing_pad = DrawingPad(self.session, self)
        self.drawing_pad.show()
        self.drawing_pad.raise_()

    def show_attribute_vectors(self) -> None:
        from latentexplorer.gui.explorer.directions_panel import AttributeVectors

        if not self.session.opened.has_run:
            return
        if self.attribute_vectors is None:
            self.attribute_vectors = AttributeVectors(self.session, self)
        self.attribute_vectors.show()
        self.attribute_vectors.raise_()

    # --- settings ----------------------------------------------------------------------------

    def read_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    def confirm_close_during_training(self) -> bool:
        """Asked when the window closes while a run trains; tests replace it."""
        answer = QMessageBox.question(
            self, "Training in progress",
            "A model is training. Stop it and quit? The last complete epoch is kept.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:
        built = self.lazy_tabs.built()  # a tab never built has nothing to stop
        training = built.get("training")
        if training is not None and training.is_running() and not self.confirm_close_during_training():
            event.ignore()
            return
        for tab in built.values():
            tab.shutdown()
        self.linear_fit.shutdown()
        self.settings.setValue("geometry", self.saveGeometry())
        self.session.shutdown()
        super().closeEvent(event)
        self.closed.emit()


LAZY_TABS = {"training": "Training", "evaluation": "ELBO", "clustering": "Clustering", "compare": "Compare"}


def build_tab(name: str, session: Session) -> QWidget:
    """The tab `name`, imported and built on first use; it fills itself from the open run."""
    if name == "training":
        from latentexplorer.gui.training.training_tab import TrainingTab as Tab
    elif name == "evaluation":
        from latentexplorer.gui.evaluation.evaluation_tab import EvaluationTab as Tab
    elif name == "clustering":
        from latentexplorer.gui.clustering.clustering_tab import ClusteringTab as Tab
    else:
        from latentexplorer.gui.compare.compare_tab import CompareTab as Tab
    return Tab(session)


def bic_curve_of_codes(codes: np.ndarray) -> dict[int, float]:
    """K → BIC of a GMM of the codes for K = 1…15 (runs in a task)."""
    from latentexplorer.analysis.mixture import bic_curve

    return bic_curve(codes.astype(np.float64), range(1, 16))
