"""The ELBO tab: how tight the open run's evidence lower bound is, and where its KL goes.

The importance-weighted bound IWAE-k rises towards log p(x) as k grows; the ELBO is its k = 1
start. The gap between them is what the approximate posterior q(z|x) costs. KL per dimension
shows which units the model uses; on data with ground-truth factors, MIG, SAP and DCI say
how separately the factors are encoded.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.analysis.evaluation import ACTIVE_THRESHOLD, check_ks
from latentexplorer.errors import UserError
from latentexplorer.gui.evaluation.evaluation_task import EvaluationResult, run_evaluation
from latentexplorer.gui.evaluation.reparameterisation_diagram import ReparameterisationDiagram
from latentexplorer.gui.state.session import Session

FORMULA = (
    "<p style='font-size:13pt'>ELBO = E<sub>q(z|x)</sub>[log p(x|z)] − KL(q(z|x) ‖ p(z)) ≤ log p(x)</p>"
    "<p>IWAE-k = E[log (1/k) Σ<sub>i</sub> p(x, z<sub>i</sub>) / q(z<sub>i</sub>|x)], z<sub>i</sub> ~ q(z|x): "
    "k = 1 is the ELBO; as k grows the bound climbs towards log p(x).</p>"
)
AE_EXPLANATION = (
    "<p><b>An autoencoder has no ELBO.</b> Its encoder gives one code per image, a posterior q(z|x) "
    "with zero variance, and it is trained without a prior p(z): the KL(q(z|x) ‖ p(z)) of a point mass "
    "is infinite, so there is no evidence lower bound and no importance-weighted bound to compute.</p>"
    "<p>Open a VAE or β-VAE run to see how tight its bound is.</p>"
)
NO_RUN = "<p>Open a VAE run to evaluate its ELBO.</p>"


def _pm(mean: float, se: float) -> str:
    return f"{mean:.3f} ± {se:.3f}" if math.isfinite(se) else f"{mean:.3f}"


class EvaluationTab(QWidget):
    """Evaluate button → a worker thread → the bound against k, a table, KL bars, factor scores."""

    evaluated = Signal(object)  # EvaluationResult, once shown
    cancelled = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluationTab")
        self.session = session
        self.task = None
        self.result: EvaluationResult | None = None
        self.items = QSpinBox(objectName="evaluationItems")
        self.items.setRange(2, 100_000)
        self.items.setValue(500)
        self.items.setToolTip("items of the open data to evaluate on (a fixed, seeded subset)")
        self.ks = QLineEdit("1, 10, 100, 1000", objectName="evaluationKs")
        self.ks.setToolTip("numbers of importance samples; each must divide the largest")
        self.evaluate_button = QPushButton("Evaluate", objectName="evaluateButton", clicked=self.start)
        self.cancel_button = QPushButton("Cancel", objectName="cancelEvaluationButton", clicked=self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar(objectName="evaluationProgress")
        self.progress.setFormat("%p% of the samples")
        self.message = QLabel(objectName="evaluationMessage")
        controls = QHBoxLayout()
        for widget in (QLabel("items"), self.items, QLabel("k"), self.ks,
                       self.evaluate_button, self.cancel_button, self.progress):
            controls.addWidget(widget)

        self.explanation = QLabel(objectName="evaluationExplanation", wordWrap=True)
        self.explanation.setTextFormat(Qt.TextFormat.RichText)
        formula = QLabel(FORMULA, objectName="elboFormula", wordWrap=True)
        self.table = QTableWidget(0, 2, objectName="evaluationTable")
        self.table.setHorizontalHeaderLabels(["nats per item", "mean ± SE"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.scores_label = QLabel(objectName="factorScoresLabel", wordWrap=True)
        self.scores = QTableWidget(0, 3, objectName="factorScoresTable")
        self.scores.setHorizontalHeaderLabels(["factor", "MIG / SAP gap", "best dimension"])
        self.scores.horizontalHeader().setStretchLastSection(True)
        self.scores.verticalHeader().setVisible(False)

        self.bound_plot = pg.PlotWidget(background="w")
        self.bound_plot.setObjectName("boundPlot")
        self.bound_plot.setLogMode(x=True, y=False)
        self.bound_plot.setLabel("bottom", "importance samples k")
        self.bound_plot.setLabel("left", "bound (nats per item)")
        self.bound_plot.setTitle("IWAE-k against k")
        self.bound_plot.addLegend(offset=(-10, 10))
        self.bound_points = self.bound_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2), symbol="o",
                                                 symbolBrush="#1f77b4", name="IWAE-k")
        self.error_bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0), beam=0.05,
                                          pen=pg.mkPen("#1f77b4"))
        self.bound_plot.addItem(self.error_bars)
        self.elbo_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#d62728", style=Qt.PenStyle.DashLine),
                                         label="ELBO", labelOpts={"position": 0.05, "color": "#d62728"})
        self.elbo_line.setVisible(False)
        self.bound_plot.addItem(self.elbo_line)
        self.kl_plot = pg.PlotWidget(background="w")
        self.kl_plot.setObjectName("klPerDimPlot")
        self.kl_plot.setLabel("bottom", "latent dimension")
        self.kl_plot.setLabel("left", "KL (nats)")
        self.kl_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush="#2ca02c")
        self.kl_plot.addItem(self.kl_bars)
        self.active_label = QLabel(objectName="activeUnitsLabel", wordWrap=True)

        self.results = QWidget()
        left = QVBoxLayout()
        left.addWidget(formula)
        left.addWidget(ReparameterisationDiagram())
        left.addWidget(self.table, 1)
        left.addWidget(self.scores_label)
        left.addWidget(self.scores, 1)
        right = QVBoxLayout()
        right.addWidget(self.bound_plot, 3)
        right.addWidget(self.kl_plot, 2)
        right.addWidget(self.active_label)
        columns = QHBoxLayout(self.results)
        columns.addLayout(left, 2)
        columns.addLayout(right, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.message)
        layout.addWidget(self.explanation)
        layout.addWidget(self.results, 1)
        layout.addStretch()  # an explanation alone sits at the top
        session.opened.runChanged.connect(self.refresh)
        session.opened.codesUpdated.connect(self._model_moved_on)
        self.refresh()

    # --- state ------------------------------------------------------------------------------

    @property
    def variational(self) -> bool:
        return self.session.opened.run is not None and self.session.opened.run.config.model.is_variational

    def is_running(self) -> bool:
        return self.task is not None and self.task.is_running()

    @Slot()
    def refresh(self) -> None:
        """A new run: stop what was computing for the old one and clear its figures."""
        self.shutdown()
        self.clear()
        has_run = self.session.opened.has_run
        self.explanation.setText("" if self.variational else (AE_EXPLANATION if has_run else NO_RUN))
        self.explanation.setVisible(not self.variational)
        self.results.setVisible(self.variational)
        self.evaluate_button.setEnabled(has_run and self.variational)
        self.cancel_button.setEnabled(False)
        if has_run and self.variational:
            self.items.setValue(min(self.items.value(), len(self.session.opened.images)))

    @Slot()
    def _model_moved_on(self) -> None:
        """A followed training run replaced the model: what is shown belongs to an earlier epoch."""
        if self.result is not None:
            self.message.setText("these figures are of an earlier epoch of the model; evaluate again")

    def clear(self) -> None:
        self.result = None
        self.bound_points.setData([], [])
        self.error_bars.setData(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0))
        self.elbo_line.setVisible(False)
        self.kl_bars.setOpts(x=[], height=[])
        self.table.setRowCount(0)
        self.scores.setRowCount(0)
        self.scores_label.setText("")
        self.active_label.setText("")
        self.message.setText("")
        self.progress.setValue(0)

    # --- running ----------------------------------------------------------------------------

    @Slot()
    def start(self) -> None:
        if not self.session.opened.has_run or not self.variational or self.is_running():
            return
        try:
            ks = check_ks(tuple(int(v) for v in self.ks.text().replace(",", " ").split()))
        except (ValueError, UserError) as exc:
            text = str(exc) if isinstance(exc, UserError) else f"k must be whole numbers, got {self.ks.text()!r}"
            self.session.report_error(text)
            return
        self.clear()
        model = copy.deepcopy(self.session.opened.model)  # the GUI thread keeps decoding with its own
        self.task = self.session.tasks.start(run_evaluation, model, self.session.opened.images, ks,
                                             self.items.value(), name="evaluation", context=True)
        self.task.progress.connect(self._on_progress)
        self.task.result.connect(self._on_finished)
        self.task.failed.connect(self._on_failed)
        self.task.cancelled.connect(self._on_cancelled)
        self.evaluate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.message.setText(f"drawing {ks[-1]} samples for each of {self.items.value()} items…")

    @Slot()
    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.message.setText("cancelling…")

    def shutdown(self) -> None:
        """Cancel and join the worker (a new run, closing the window)."""
        if self.task is not None:
            self.task.cancel()
            self.task.wait()
            self.task = None

    def _current(self) -> bool:
        """Whether the signal comes from the worker this tab still waits for."""
        return self.task is not None and self.sender() is self.task

    def _done(self) -> None:
        self.task.wait()
        self.task = None
        self.evaluate_button.setEnabled(self.session.opened.has_run and self.variational)
        self.cancel_button.setEnabled(False)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self._current():
            self.progress.setMaximum(max(total, 1))
            self.progress.setValue(done)

    @Slot(object)
    def _on_finished(self, result: EvaluationResult) -> None:
        if not self._current():
            return
        self._done()
        self.show_result(result)
        self.message.setText(f"{result.curve.n} items, k up to {result.curve.ks[-1]}")
        self.evaluated.emit(result)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if not self._current():
            return
        self._done()
        self.message.setText("")
        self.session.report_error(message)

    @Slot()
    def _on_cancelled(self) -> None:
        if not self._current():
            return
        self._done()
        self.progress.setValue(0)
        self.message.setText("cancelled")
        self.cancelled.emit()

    # --- showing ----------------------------------------------------------------------------

    def show_result(self, result: EvaluationResult) -> None:
        self.result = result
        curve = result.curve
        ks = np.array(curve.ks, dtype=float)
        bound, se = np.array(curve.bound), np.nan_to_num(np.array(curve.bound_se))
        self.bound_points.setData(ks, bound)
        self.error_bars.setData(x=np.log10(ks), y=bound, height=2 * se)
        # ticks at the k evaluated only: the log axis's own minor labels crowd into each other
        self.bound_plot.getAxis("bottom").setTicks([[(float(np.log10(k)), f"{int(k):,}") for k in ks]])
        self.elbo_line.setValue(curve.elbo)
        self.elbo_line.setVisible(True)
        rows = [("reconstruction E_q[log p(x|z)]", curve.recon, curve.recon_se),
                ("KL(q(z|x) ‖ p(z))", curve.kl, curve.kl_se),
                ("ELBO", curve.elbo, curve.elbo_se)]
        rows += [(f"IWAE k={k}", b, s) for k, b, s in zip(curve.ks, curve.bound, curve.bound_se)]
        self.table.setRowCount(len(rows))
        for i, (label, mean, err) in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(label))
            self.table.setItem(i, 1, QTableWidgetItem(_pm(mean, err)))
        dims = np.arange(len(curve.kl_per_dim))
        self.kl_bars.setOpts(x=dims, height=np.array(curve.kl_per_dim), width=0.7)
        self.kl_plot.getAxis("bottom").setTicks([[(int(d), f"z{d}") for d in dims]])
        active = curve.active_dims()
        self.active_label.setText(
            f"{sum(active)} of {len(active)} units active (KL above {ACTIVE_THRESHOLD} nats or Var(μ) above "
            f"{ACTIVE_THRESHOLD} across items); KL in all {sum(curve.kl_per_dim):.2f} nats."
        )
        self._show_scores(result)

    def _show_scores(self, result: EvaluationResult) -> None:
        s = result.scores
        if s is None:
            self.scores_label.setText("No ground-truth factors in these data: no disentanglement scores.")
            self.scores.setRowCount(0)
            self.scores.setVisible(False)
            return
        self.scores.setVisible(True)
        self.scores_label.setText(
            f"<b>MIG</b> {s.mig:.3f} &nbsp; <b>SAP</b> {s.sap:.3f} &nbsp; <b>DCI</b> disentanglement "
            f"{s.dci_disentanglement:.3f}, completeness {s.dci_completeness:.3f}, "
            f"informativeness {s.dci_informativeness:.3f}"
        )
        self.scores.setRowCount(len(s.mig_per_factor))
        for i, name in enumerate(s.mig_per_factor):
            gaps = f"{s.mig_per_factor[name]:.3f} / {s.sap_per_factor.get(name, float('nan')):.3f}"
            for j, text in enumerate((name, gaps, f"z{s.best_dim_per_factor[name]}")):
                self.scores.setItem(i, j, QTableWidgetItem(text))
