"""Layers ▸ Aggregate posterior vs prior: where the codes' distribution q(z) = (1/N) Σ q(z|xₙ)
puts its mass in the current view (blue), the prior p(z) = N(0, I) as its 1σ, 2σ and 3σ
contours (dashed), and the holes, where the prior puts mass and q(z) almost none (red). The
panel shows the Monte-Carlo estimate of KL(q(z) ‖ p(z)) with its standard error.

The density follows the visible region (a task per settled pan or zoom, the older dropped); the
KL is computed once per set of codes, in the full latent space."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject

from latentexplorer.analysis.aggregate_posterior import KLEstimate, aggregate_kl
from latentexplorer.analysis.aggregate_view import AggregateView, density_in_view
from latentexplorer.gui.explorer.view_layer import ViewLayer
from latentexplorer.gui.state.layers import AGGREGATE
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets.aggregate_items import AggregateItems

GRID = 120
KL_SAMPLES = 1000


@dataclass(frozen=True)
class AggregateFigures:
    """For the panel: the KL estimate (None while it computes) and the holes in view."""

    kl: KLEstimate | None
    hole_fraction: float | None


class AggregateLayer(ViewLayer):
    name = AGGREGATE

    def __init__(self, session: Session, scatter, parent: QObject | None = None) -> None:
        super().__init__(session, scatter, parent)
        self.drawn = AggregateItems(scatter.plot)
        self.image, self.hole_image, self.prior_curves = self.drawn.image, self.drawn.hole_image, self.drawn.prior_curves
        self.shown: AggregateView | None = None
        self.kl: KLEstimate | None = None
        self._kl_of: object = None  # the codes the KL was estimated for

    def refresh(self) -> None:
        o, view = self.session.opened, self.session.view
        xs, ys = self.grid(GRID)
        self._draw_prior()
        task = self.session.tasks.start(density_in_view, o.mu, o.logvar, view.projection, o.latent_dim, xs, ys,
                                        name="aggregate-density")
        task.result.connect(self._show)
        task.failed.connect(lambda message: self.session.report_error(f"the aggregate posterior failed: {message}"))
        if self._kl_of is not o.mu:
            self._kl_of, self.kl = o.mu, None
            kl = self.session.tasks.start(aggregate_kl, o.mu, o.logvar, samples=KL_SAMPLES, seed=0, name="aggregate-kl")
            kl.result.connect(self._kl_done)
            kl.failed.connect(lambda message: self.session.report_error(f"the KL estimate failed: {message}"))
        self._publish()

    def _draw_prior(self) -> None:
        self.drawn.show_prior(self.session.view.projection, self.session.opened.latent_dim)

    def _show(self, shown: AggregateView) -> None:
        if not self.on:
            return
        self.shown = shown
        self._paint()
        self._publish()

    def _paint(self) -> None:
        self.drawn.show_density(self.shown, self.opacity)

    def _kl_done(self, estimate: KLEstimate) -> None:
        if self._kl_of is self.session.opened.mu:
            self.kl = estimate
            self._publish()

    def _publish(self) -> None:
        if self.on:
            fraction = None if self.shown is None else self.shown.hole_fraction
            self.session.layers.set_figures(self.name, AggregateFigures(self.kl, fraction))

    def restyle(self) -> None:
        if self.on and self.shown is not None:
            self._paint()

    def data_changed(self) -> None:
        self.shown = None
        super().data_changed()

    def clear(self) -> None:
        self.session.tasks.cancel("aggregate-density")
        self.shown = None
        self.drawn.hide()
