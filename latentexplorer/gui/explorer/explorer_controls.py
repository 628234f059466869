"""The controls above the scatter: projection and its dimensions, colouring, the mixture's
K (or K by BIC), ellipses, prior samples, posterior placement, drawing and attribute vectors.

They show the Session's state (`sync`, without feeding it back) and turn edits into calls of
its public methods."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.gui.state.session import Session


class ExplorerControls(QWidget):
    """Projection, colouring and mixture controls above the scatter."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.projection = QComboBox()
        for key, name in (("dims", "Two dimensions"), ("pca", "PCA"), ("fa", "Factor analysis")):
            self.projection.addItem(name, key)
        self.projection.setToolTip("How a latent space of more than 2 dimensions is shown in 2-D; "
                                   "clicks map back through the projection's inverse")
        self.dim_x = QSpinBox(prefix="x: z")
        self.dim_y = QSpinBox(prefix="y: z")
        self.dim_x.setToolTip("Latent dimension on the horizontal axis")
        self.dim_y.setToolTip("Latent dimension on the vertical axis")
        self.colour = QComboBox()
        self.colour.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.colour.setToolTip("Soft: each point blends its components' colours by responsibility "
                               "(EM's E-step); hard: the most responsible component only")
        self.k = QSpinBox(minimum=1, maximum=30, prefix="K = ")
        self.k.setToolTip("Number of Gaussian mixture components (and k-means clusters)")
        self.auto_k = QCheckBox("auto (BIC)")
        self.auto_k.setToolTip("Choose K with the lowest Bayesian information criterion")
        self.ellipses = QCheckBox("ellipses")
        self.ellipses.setChecked(True)
        self.ellipses.setToolTip("1σ (solid) and 2σ (dashed) contours of each component in this view")
        self.bic = QPushButton("BIC…")
        self.bic.setToolTip("BIC of the mixture for K = 1…15")
        self.prior = QPushButton("Sample prior")
        self.prior.setToolTip("Decode 6 samples z ~ N(0, I) and mark them on the scatter")
        self.manifold = QPushButton("Manifold…")
        self.manifold.setToolTip("Decode a grid through the inverse Gaussian CDF (2-D latents)")
        self.sampled = QCheckBox("points at sampled z")
        self.sampled.setToolTip("Place each item at one draw z = μ + σ·ε of its posterior q(z|x) "
                                "instead of at μ: a VAE's encoder is stochastic, an autoencoder's is not")
        self.redraw = QPushButton("Redraw ε")
        self.redraw.setToolTip("Draw new ε ~ N(0, I) for every item")
        self.redraw.setEnabled(False)
        self.draw = QPushButton("Draw…")
        self.draw.setToolTip("Draw your own input (or drop an image) and see where the model puts it")
        self.directions = QPushButton("Attribute vector…")
        self.directions.setToolTip("A direction between the mean codes of two groups, applied to the selected item")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        rows = (
            (QLabel("View"), self.projection, self.dim_x, self.dim_y, QLabel("Colour"), self.colour),
            (QLabel("Mixture"), self.k, self.auto_k, self.ellipses, self.bic, self.prior, self.manifold),
            (QLabel("Posterior"), self.sampled, self.redraw, self.draw, self.directions),
        )
        for widgets in rows:
            row = QHBoxLayout()
            for w in widgets:
                row.addWidget(w)
            row.addStretch(1)
            layout.addLayout(row)
        self.projection.currentIndexChanged.connect(self._projection_changed)
        self.dim_x.valueChanged.connect(self._projection_changed)
        self.dim_y.valueChanged.connect(self._projection_changed)
        self.colour.currentIndexChanged.connect(self._colour_changed)
        self.k.editingFinished.connect(self._k_changed)
        self.k.valueChanged.connect(self._k_changed)
        self.auto_k.toggled.connect(self._k_changed)
        self.ellipses.toggled.connect(self._ellipses_changed)
        self.sampled.toggled.connect(self._placement_changed)
        self.redraw.clicked.connect(lambda: session.view.set_placement("sample", redraw=True))
        session.opened.runChanged.connect(self.sync)
        session.colouring.modesChanged.connect(self.sync)
        session.colouring.mixtureChanged.connect(self._mixture_changed)

    def sync(self) -> None:
        """Show the session's state without feeding it back."""
        s = self.session
        widgets = (self.projection, self.dim_x, self.dim_y, self.colour, self.k, self.auto_k)
        for w in widgets:
            w.blockSignals(True)
        d = max(1, s.opened.latent_dim)
        self.dim_x.setMaximum(d - 1)
        self.dim_y.setMaximum(d - 1)
        self.dim_x.setValue(s.view.dims[0])
        self.dim_y.setValue(s.view.dims[1])
        self.projection.setCurrentIndex(self.projection.findData(s.view.kind))
        self.projection.setEnabled(d > 2)
        self.colour.clear()
        for key, name in s.colouring.colour_modes().items():
            self.colour.addItem(name, key)
        # the Session fell back to an available mode on opening: found unless nothing is open
        self.colour.setCurrentIndex(max(0, self.colour.findData(s.colouring.mode)))
        self.k.setValue(s.colouring.k)
        self.auto_k.setChecked(s.colouring.auto_k)
        self._update_dims_enabled()
        self.manifold.setEnabled(d == 2 and s.opened.run is not None and s.opened.run.config.model.is_variational)
        self.sampled.blockSignals(True)
        self.sampled.setChecked(s.view.placement == "sample")
        self.sampled.setEnabled(s.opened.variational)
        self.sampled.blockSignals(False)
        self.redraw.setEnabled(s.opened.variational and s.view.placement == "sample")
        for w in widgets:
            w.blockSignals(False)

    def _update_dims_enabled(self) -> None:
        dims = self.projection.currentData() == "dims" and self.session.opened.latent_dim > 2
        self.dim_x.setEnabled(dims)
        self.dim_y.setEnabled(dims)

    def _projection_changed(self) -> None:
        self._update_dims_enabled()
        x, y = self.dim_x.value(), self.dim_y.value()
        if self.projection.currentData() == "dims" and x == y:
            return
        self.session.set_projection(self.projection.currentData(), (x, y))

    def _colour_changed(self) -> None:
        if self.colour.currentData():
            self.session.colouring.set_mode(self.colour.currentData())

    def _k_changed(self) -> None:
        auto = self.auto_k.isChecked()
        self.k.setEnabled(not auto)
        if auto == self.session.colouring.auto_k and self.k.value() == self.session.colouring.k:
            return
        self.session.set_k(None if auto else self.k.value())

    def _placement_changed(self, sampled: bool) -> None:
        self.redraw.setEnabled(sampled)
        self.session.view.set_placement("sample" if sampled else "mu")

    def _mixture_changed(self) -> None:
        self.k.blockSignals(True)
        self.k.setValue(self.session.colouring.k)
        self.k.blockSignals(False)

    def _ellipses_changed(self, on: bool) -> None:
        self.session.colouring.set_show_ellipses(on)
