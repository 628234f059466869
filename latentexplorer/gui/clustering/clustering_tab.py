"""The Clustering tab: k-means against EM for a Gaussian mixture, one iteration at a time.

It runs on the points the Explorer shows (the 2-D codes of the current view), so hard
assignment (k-means: each point in one cluster's colour) and soft assignment (EM: each point's
colour blended by its responsibilities, with 1σ/2σ ellipses) can be watched side by side with
their objective per iteration, ARI/NMI against the labels, and BIC/AIC for choosing K.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.analysis import mixture as mix
from latentexplorer.analysis.cluster_quality import assignment_scores, information_criteria
from latentexplorer.analysis.clustering_steps import (
    MAX_ITER,
    GaussianMixtureStepper,
    KMeansStepper,
)
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets.point_cloud import ContoursItem, PointCloudItem

MAX_POINTS = 20_000  # points the iteration runs on at most (a seeded random subset beyond)
CRITERIA_KS = range(1, 16)
PLAY_INTERVAL_MS = 250  # four iterations a second: slow enough to follow each one
RUN_SLICE_S = 0.025  # "Run to convergence" steps this long per event-loop pass, then draws
METHODS = {"kmeans": "k-means (hard)", "em": "Gaussian mixture by EM (soft)"}
GREY = np.array([150, 150, 150, 255], np.uint8)


CRITERIA_TASK = "clustering-criteria"


def criteria_in_thread(points: np.ndarray, seed: int):
    """BIC/AIC per K for a task, on one BLAS/OpenMP thread so that the window keeps a core."""
    import sklearn.cluster  # noqa: F401  (loaded before the limit, so the limit reaches them)
    import sklearn.mixture  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return information_criteria(points, CRITERIA_KS, seed=seed, max_points=None)


class ClusteringTab(QWidget):
    """k-means and GMM-EM stepped on the Explorer's 2-D points; objectName `clusteringTab`."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("clusteringTab")
        self.session = session
        self.stepper: KMeansStepper | GaussianMixtureStepper | None = None
        self.points = np.zeros((0, 2))
        self.indices: np.ndarray | None = None  # of the subset, None when all points are used
        self.labels: np.ndarray | None = None  # true labels of the points, when the data have them
        self.criteria = None  # the last BIC/AIC per K of these points
        self._running = False  # "Run to convergence" (else the timer plays)
        self._stale = True  # the session changed while the tab was hidden: start over when shown
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self._build()
        session.opened.runChanged.connect(self.reset)
        session.view.projectionChanged.connect(self.reset)
        session.opened.codesUpdated.connect(self.reset)
        self.reset()

    # --- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.method = QComboBox()
        for key, name in METHODS.items():
            self.method.addItem(name, key)
        self.method.setToolTip("k-means assigns each point to one cluster; EM gives each point a "
                               "responsibility for every Gaussian component")
        self.k = QSpinBox(minimum=1, maximum=20, value=10, prefix="K = ")
        self.seed = QSpinBox(minimum=0, maximum=999_999, prefix="seed ")
        self.seed.setToolTip("Seeds the k-means++ starting centres (and the subset of a large set)")
        self.init_button = QPushButton("Initialise")
        self.init_button.setToolTip("Start again from k-means++ centres drawn with this seed")
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One iteration: assignment + update (k-means), E + M step (EM)")
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Iterate a few times a second until converged")
        self.run_button = QPushButton("Run to convergence")
        self.data_note = QLabel()
        self.data_note.setObjectName("clusteringDataNote")
        self.data_note.setWordWrap(True)
        self.iteration_label = QLabel()
        self.iteration_label.setObjectName("clusteringIteration")
        self.scores_label = QLabel()
        self.scores_label.setObjectName("clusteringScores")
        self.scores_label.setToolTip("Adjusted Rand index and normalised mutual information of the "
                                     "hard assignment against the true labels (1: the same partition)")
        controls = QHBoxLayout()
        for w in (QLabel("Method"), self.method, self.k, self.seed, self.init_button,
                  self.step_button, self.play_button, self.run_button):
            controls.addWidget(w)
        controls.addStretch(1)
        status = QHBoxLayout()
        status.setSpacing(24)
        for w in (self.iteration_label, self.scores_label):
            status.addWidget(w)
        status.addStretch(1)

        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("clusteringPlot")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.cloud = PointCloudItem()
        self.contours = ContoursItem()
        self.centres = pg.ScatterPlotItem(size=17, symbol="o", pen=pg.mkPen("k", width=2.5))
        self.centres.setZValue(10)
        for item in (self.cloud, self.contours, self.centres):
            self.plot.addItem(item)
        self.objective_plot = pg.PlotWidget(background="w")
        self.objective_plot.setObjectName("objectivePlot")
        self.objective_plot.setLabel("bottom", "iteration")
        self.objective_curve = self.objective_plot.plot(
            pen=pg.mkPen((0, 114, 178), width=2), symbol="o", symbolSize=5,
            symbolBrush=(0, 114, 178), symbolPen=None,
        )
        self.criteria_plot = pg.PlotWidget(background="w")
        self.criteria_plot.setObjectName("criteriaPlot")
        self.criteria_plot.setLabel("bottom", "K")
        self.criteria_plot.addLegend(offset=(-10, 10))
        self.bic_curve = self.criteria_plot.plot(pen=pg.mkPen((0, 114, 178), width=2), name="BIC")
        self.aic_curve = self.criteria_plot.plot(pen=pg.mkPen((213, 94, 0), width=2), name="AIC")
        self.criteria_minima = pg.ScatterPlotItem(size=18, symbol="star", pen=pg.mkPen("k"),
                                                  brush=pg.mkBrush(240, 228, 66))
        self.criteria_plot.addItem(self.criteria_minima)
        self.criteria_button = QPushButton("BIC/AIC per K")
        self.criteria_button.setToolTip("Fit a Gaussian mixture (scikit-learn) for K = 1…15 to "
                                        "these points, in the background")
        self.criteria_label = QLabel()
        self.criteria_label.setObjectName("criteriaLabel")
        self.criteria_label.setWordWrap(True)
        side = QVBoxLayout()
        side.addWidget(QLabel("Objective per iteration"))
        side.addWidget(self.objective_plot, 1)
        side.addWidget(self.criteria_button)
        side.addWidget(self.criteria_plot, 1)
        side.addWidget(self.criteria_label)
        grid = QGridLayout(self)
        grid.addLayout(controls, 0, 0, 1, 2)
        grid.addWidget(self.data_note, 1, 0, 1, 2)
        grid.addLayout(status, 2, 0, 1, 2)
        grid.addWidget(self.plot, 3, 0)
        grid.addLayout(side, 3, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(3, 1)

        self.method.currentIndexChanged.connect(self.initialise)
        self.k.valueChanged.connect(self.initialise)
        self.seed.valueChanged.connect(self.reset)
        self.init_button.clicked.connect(self.initialise)
        self.step_button.clicked.connect(self.step)
        self.play_button.toggled.connect(self._play_toggled)
        self.run_button.clicked.connect(self.run_to_convergence)
        self.criteria_button.clicked.connect(self.compute_criteria)

    # --- following the session -----------------------------------------------------------------

    def reset(self) -> None:
        """Take the Explorer's current points (a new run, projection or codes) and start over.
        A hidden tab only notes it and starts over when shown: a followed training run
        updates the codes every epoch, and redrawing an unseen plot took time from it."""
        self._stop()
        self.session.tasks.cancel(CRITERIA_TASK)  # BIC/AIC of earlier points are no longer wanted
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        s = self.session
        self.bic_curve.setData([], [])
        self.aic_curve.setData([], [])
        self.criteria_minima.setData([], [])
        self.criteria = None
        self.criteria_label.setText(
            f"Press “BIC/AIC per K” to fit a mixture for each K = 1…{CRITERIA_KS[-1]} to these points "
            "in the background: the lowest BIC is the K the data support" if s.opened.has_run else "")
        self.criteria_button.setEnabled(s.opened.has_run)
        if not s.opened.has_run or s.view.projection is None:
            self.points, self.indices, self.labels = np.zeros((0, 2)), None, None
            self.data_note.setText("Open a run to cluster its codes.")
            self.stepper = None
            self._draw()
            return
        xy = np.asarray(s.view.xy, np.float64)
        self.indices = mix.subset_indices(len(xy), MAX_POINTS, self.seed.value())
        self.points = xy if self.indices is None else xy[self.indices]
        truth = s.opened.images.labels
        self.labels = None if truth is None else (truth if self.indices is None else truth[self.indices])
        x_label, y_label = (label or "—" for label in s.view.projection.labels)
        which = (f"all {len(xy):,} points" if self.indices is None else
                 f"a random {len(self.points):,} of the {len(xy):,} points (seed {self.seed.value()})")
        self.data_note.setText(
            f"k-means and EM run here on the 2-D codes of the Explorer's current view "
            f"({x_label} × {y_label}), the points drawn below: {which}.")
        self.plot.setLabel("bottom", x_label)
        self.plot.setLabel("left", y_label)
        self.initialise()  # visible here: a hidden tab waits until shown (no scikit-learn at start)
        self.plot.getViewBox().autoRange(items=[self.cloud], padding=0.05)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.reset()

    def initialise(self) -> None:
        """A new stepper for the chosen method, K and seed, at iteration 0."""
        self._stop()
        self.stepper = None
        if len(self.points):
            k, seed = self.k.value(), self.seed.value()
            stepper_class = KMeansStepper if self.method.currentData() == "kmeans" else GaussianMixtureStepper
            try:
                self.stepper = stepper_class.seeded(self.points, k, seed)
            except ValueError as exc:
                self.session.report_error(f"cannot start the clustering: {exc}")
        self._draw()

    # --- iterating ---------------------------------------------------------------------------

    def step(self) -> None:
        """One iteration, drawn."""
        self._stop()
        self._advance(1)

    def run_to_convergence(self) -> None:
        """Iterate until converged, in slices that leave the window responsive."""
        if not self._can_step():
            return
        self._running = True
        self._set_play_checked(True)
        self.timer.start(0)

    def _play_toggled(self, on: bool) -> None:
        if on and self._can_step():
            self._running = False
            self.play_button.setText("Pause")
            self.timer.start(PLAY_INTERVAL_MS)
        else:
            self._stop()

    def _tick(self) -> None:
        if not self._running:
            self._advance(1)
            return
        deadline = time.perf_counter() + RUN_SLICE_S
        while self._can_step() and time.perf_counter() < deadline:
            self._advance(1, draw=False)
        self._draw()

    def _advance(self, n: int, draw: bool = True) -> None:
        for _ in range(n):
            if not self._can_step():
                break
            try:
                self.stepper.step()
            except ValueError as exc:  # a component collapsed: say so, keep the last state
                self._stop()
                self.session.report_error(f"the iteration stopped: {exc}")
                break
        if not self._can_step():
            self._stop()
        if draw:
            self._draw()

    def _can_step(self) -> bool:
        s = self.stepper
        return s is not None and not s.converged and s.iteration < MAX_ITER

    def _stop(self) -> None:
        self.timer.stop()
        self._running = False
        self._set_play_checked(False)

    def _set_play_checked(self, on: bool) -> None:
        self.play_button.blockSignals(True)
        self.play_button.setChecked(on)
        self.play_button.setText("Pause" if on else "Play")
        self.play_button.blockSignals(False)

    # --- drawing -----------------------------------------------------------------------------

    def _draw(self) -> None:
        s = self.stepper
        for w in (self.step_button, self.run_button, self.play_button):
            w.setEnabled(self._can_step() or (w is self.play_button and self.timer.isActive()))
        self.init_button.setEnabled(len(self.points) > 0)
        if s is None:
            self.cloud.setData(self.points, GREY)
            self.centres.setData([], [])
            self.contours.setData([])
            self.objective_curve.setData([], [])
            self.iteration_label.setText("")
            self.scores_label.setText("")
            return
        state = s.state
        colours = mix.palette(state.k)
        if isinstance(s, KMeansStepper):
            self.cloud.setData(self.points, mix.hard_colours(state.labels, colours))
            self.centres.setData(pos=state.centres, brush=[pg.mkBrush(*c) for c in colours])
            self.contours.setData([])
            self.objective_plot.setLabel("left", "inertia (sum of squared distances)")
        else:
            self.cloud.setData(self.points, mix.blend_colours(state.responsibilities, colours))
            self.centres.setData(pos=state.means, brush=[pg.mkBrush(*c) for c in colours])
            self.contours.setData(self._ellipses(state.means, state.covariances, colours))
            self.objective_plot.setLabel("left", "mean log-likelihood per point")
        history = np.asarray(s.history, np.float64)
        self.objective_curve.setData(np.arange(1, len(history) + 1), history)
        text = f"Iteration {state.iteration}"
        if state.converged:
            text += " · converged"
        elif state.iteration >= MAX_ITER:
            text += f" · stopped after {MAX_ITER} iterations without converging"
        self.iteration_label.setText(text)
        if self.labels is None:
            self.scores_label.setText("no true labels to compare with")
        else:
            scores = assignment_scores(self.labels, state.labels)
            self.scores_label.setText(f"against the true labels: ARI {scores.ari:.3f} · NMI {scores.nmi:.3f}")

    @staticmethod
    def _ellipses(means: np.ndarray, covariances: np.ndarray, colours: np.ndarray) -> list:
        contours = []
        for mean, cov, rgb in zip(means, covariances, colours):
            darker = QColor(int(rgb[0]), int(rgb[1]), int(rgb[2])).darker(140)
            for n_sigma, style in ((1.0, Qt.PenStyle.SolidLine), (2.0, Qt.PenStyle.DashLine)):
                pen = pg.mkPen(darker, width=2, style=style)
                pen.setCosmetic(True)
                contours.append((mix.ellipse(mean, cov, n_sigma), pen))
        return contours

    # --- BIC / AIC -----------------------------------------------------------------------------

    def compute_criteria(self) -> None:
        """BIC and AIC for K = 1…15 on these points, in a worker thread."""
        if not len(self.points):
            return
        self.criteria_button.setEnabled(False)
        self.criteria_label.setText(f"fitting a Gaussian mixture for K = 1…{CRITERIA_KS[-1]} "
                                    f"to {len(self.points):,} points…")
        task = self.session.tasks.start(criteria_in_thread, self.points, self.seed.value(), name=CRITERIA_TASK)
        task.result.connect(self._criteria_done)
        task.failed.connect(self._criteria_failed)

    @Slot(object)
    def _criteria_done(self, criteria) -> None:
        self.criteria_button.setEnabled(True)
        self.criteria = criteria
        self.bic_curve.setData(criteria.ks, criteria.bic)
        self.aic_curve.setData(criteria.ks, criteria.aic)
        kb, ka = criteria.best_bic_k, criteria.best_aic_k
        self.criteria_minima.setData([kb, ka], [criteria.bic.min(), criteria.aic.min()])
        self.criteria_label.setText(
            f"Lowest BIC at K = {kb}, lowest AIC at K = {ka} (full-covariance GMMs fitted by "
            f"scikit-learn to the same {criteria.fitted_on:,} points)")

    @Slot(str)
    def _criteria_failed(self, message: str) -> None:
        self.criteria_button.setEnabled(self.session.opened.has_run)
        self.criteria_label.setText("")
        self.session.report_error(f"BIC/AIC failed: {message}")

    def criteria_running(self) -> bool:
        return bool(self.session.tasks.running(CRITERIA_TASK))

    def shutdown(self) -> None:
        """Stop iterating and join the BIC/AIC thread (window closing)."""
        self._stop()
        self.session.tasks.cancel(CRITERIA_TASK)
        self.session.tasks.wait(CRITERIA_TASK)
