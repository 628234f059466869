"""How the points are coloured: the colour mode, the mixture (GMM by EM and k-means) it may
show, and the legend entries the user hid.

Vocabulary: colour mode, K (or K by BIC), mixture, responsibilities, component colours,
legend, hidden groups, ellipses. The fits themselves run in `analysis.view_mixtures`; the
Session decides when and where (at once or in a task) and hands the result here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from latentexplorer.analysis import mixture as mix
from latentexplorer.analysis.view_mixtures import MixtureFits
from latentexplorer.gui.state.opened_run import OpenedRun
from latentexplorer.gui.state.view import ViewState

COLOUR_MODES = {
    "gmm-soft": "GMM responsibilities (soft)",
    "gmm-hard": "GMM assignment (hard)",
    "kmeans": "k-means",
    "labels": "True labels",
    "uncertainty": "Posterior uncertainty (mean σ)",
}
"""Colour modes; `factor:<name>` adds one per ground-truth factor of the data."""

GREY = (90, 90, 90, 255)
MAX_CUSTOM_CLASSES = 50  # more distinct whole numbers than this are a scale, not classes


@dataclass(frozen=True)
class CustomColours:
    """What colour_by was given: class codes with their names, or numbers (classes empty)."""

    name: str
    values: np.ndarray
    classes: tuple[str, ...]


class Colouring(QObject):
    mixtureChanged = Signal()  # a new fit, K, or whether its ellipses are shown
    coloursChanged = Signal()  # new point colours, or groups hidden / shown
    modesChanged = Signal()  # the modes on offer changed (values given by colour_by)

    def __init__(self, opened: OpenedRun, view: ViewState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._opened, self._view = opened, view
        self.mode = "gmm-soft"
        self.k = 10
        self.auto_k = False
        self.show_ellipses = True
        self.hidden: set[int] = set()
        self.mixture: mix.MixtureFit | None = None
        self.kmeans: mix.MixtureFit | None = None
        self.bic: dict[int, float] = {}
        self.colour_index = np.arange(0)  # component → palette entry, stable across refits
        self.colours = np.zeros((0, 4), np.uint8)
        self.custom: CustomColours | None = None  # values a notebook colours by (colour_by)

    # --- choices -----------------------------------------------------------------------------

    def reset_for_run(self) -> None:
        """No fit of the previous codes is kept for new ones (silently: the Session announces)."""
        self.mixture = self.kmeans = None
        self.hidden = set()

    def colour_by(self, values: np.ndarray, name: str = "values") -> None:
        """Colour by the caller's values, one per item: classes (integers or strings) get the
        palette and a legend, numbers a colour scale. Offered as the mode "custom"."""
        values = np.asarray(values).reshape(-1)
        n = len(self._opened.mu)
        if len(values) != n:
            raise ValueError(f"colour_by needs one value per item: {len(values)} values for {n} items")
        numeric = np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_
        whole = numeric and np.all(np.isfinite(values.astype(float))) and np.array_equal(values, np.round(values))
        if not numeric or (whole and len(np.unique(values)) <= MAX_CUSTOM_CLASSES):
            names, codes = np.unique(values.astype(str) if not numeric else values, return_inverse=True)
            self.custom = CustomColours(name, codes.astype(np.int64), tuple(str(v) for v in names))
        else:
            self.custom = CustomColours(name, values.astype(np.float64), ())
        self.mode, self.hidden = "custom", set()
        self.modesChanged.emit()  # the controls offer and show the mode before it colours
        self.recolour()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.hidden = set()
        self.recolour()

    def choose_k(self, k: int | None) -> None:
        """K components, or None for the K with the lowest BIC (the Session refits)."""
        self.auto_k = k is None
        if k is not None:
            self.k = int(k)

    def set_show_ellipses(self, on: bool) -> None:
        self.show_ellipses = bool(on)
        self.mixtureChanged.emit()

    def set_bic(self, curve: dict[int, float]) -> None:
        """Keep a BIC curve computed on the open codes (shown again without refitting)."""
        self.bic = dict(curve)

    def toggle_group(self, key: int) -> None:
        """Hide or show the points of one legend entry."""
        self.hidden ^= {key}
        self.coloursChanged.emit()

    # --- fits ----------------------------------------------------------------------------------

    def fits_shown_k(self, fits: MixtureFits | None, n: int) -> bool:
        """Whether mixtures fitted elsewhere can be shown as they are: the K the view asks for
        (it may have changed while they were fitted) and one row per code."""
        if fits is None or self.auto_k:
            return False
        return fits[0].k == self.k and len(fits[0].responsibilities) == n

    def set_fit(self, fits: MixtureFits) -> None:
        """Hold a fit without announcing it (the Session emits once the picture agrees)."""
        gmm, kmeans, bic = fits
        previous = self.mixture
        if previous is not None and previous.means.shape[1] == gmm.means.shape[1]:
            self.colour_index = mix.stable_colour_indices(previous.means, self.colour_index, gmm.means)
        else:
            self.colour_index = np.arange(gmm.k)
        self.mixture, self.kmeans, self.bic = gmm, kmeans, bic or self.bic
        self.k = gmm.k

    def apply_fit(self, fits: MixtureFits) -> None:
        self.set_fit(fits)
        self.mixtureChanged.emit()
        self.recolour()

    # --- what the views read -------------------------------------------------------------------

    def component_colours(self) -> np.ndarray:
        return mix.palette(int(self.colour_index.max()) + 1 if len(self.colour_index) else 1)[
            self.colour_index
        ]

    def responsibilities_of(self, index: int) -> np.ndarray | None:
        return None if self.mixture is None else self.mixture.responsibilities[index]

    def legend(self) -> list[tuple[int, str, np.ndarray]]:
        """(key, name, RGB) of what the current colour mode distinguishes."""
        o = self._opened
        if self.mode in ("gmm-soft", "gmm-hard") and self.mixture is not None:
            colours = self.component_colours()
            return [(i, f"component {i + 1} ({w:.0%})", colours[i]) for i, w in enumerate(self.mixture.weights)]
        if self.mode == "kmeans" and self.kmeans is not None:
            colours = mix.palette(self.kmeans.k)
            return [(i, f"cluster {i + 1}", colours[i]) for i in range(self.kmeans.k)]
        if self.mode == "labels" and o.images is not None and o.images.labels is not None:
            classes = o.class_names()
            colours = mix.palette(len(classes))
            return [(i, name, colours[i]) for i, name in enumerate(classes)]
        if self.mode == "custom" and self._custom_fits() and self.custom.classes:
            colours = mix.palette(len(self.custom.classes))
            return [(i, name, colours[i]) for i, name in enumerate(self.custom.classes)]
        return []

    def group_of_points(self) -> np.ndarray | None:
        """The legend key of each point (for hiding), or None when the mode has no groups."""
        if self.mode in ("gmm-soft", "gmm-hard") and self.mixture is not None:
            return self.mixture.labels
        if self.mode == "kmeans" and self.kmeans is not None:
            return self.kmeans.labels
        if self.mode == "labels" and self._opened.images.labels is not None:
            return self._opened.images.labels
        if self.mode == "custom" and self._custom_fits() and self.custom.classes:
            return self.custom.values
        return None

    def _custom_fits(self) -> bool:
        """Values given by colour_by apply while the items they were given for are shown."""
        return self.custom is not None and len(self.custom.values) == len(self._opened.mu)

    def visible(self) -> np.ndarray:
        groups = self.group_of_points()
        if groups is None or not self.hidden:
            return np.ones(len(self._opened.mu), bool)
        return ~np.isin(groups, list(self.hidden))

    def colour_modes(self) -> dict[str, str]:
        """The modes the open run and data allow (labels, σ, factors only when they exist)."""
        o = self._opened
        modes = dict(COLOUR_MODES)
        if o.images is None or o.images.labels is None:
            modes.pop("labels")
        if o.run is not None and not o.run.config.model.is_variational:
            modes.pop("uncertainty")
        if o.images is not None and o.images.factors is not None:
            for name in o.images.factors.names:
                modes[f"factor:{name}"] = f"Factor: {name}"
        if self._custom_fits():
            modes["custom"] = f"Colour by: {self.custom.name}"
        return modes

    def ensure_mode_available(self) -> None:
        """Fall back to the first mode when the one chosen does not apply to the open data."""
        modes = self.colour_modes()
        if self.mode not in modes:
            self.mode = next(iter(modes))

    def ellipses(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(RGB, 1σ polygon, 2σ polygon) per GMM component in the current projection."""
        projection = self._view.projection
        if self.mixture is None or projection is None or self.mixture.kind != "gmm":
            return []
        centres = projection.transform(self.mixture.means)
        covs = projection.project_covariance(self.mixture.covariances)
        colours = self.component_colours()
        return [
            (colours[i], mix.ellipse(centres[i], covs[i], 1.0), mix.ellipse(centres[i], covs[i], 2.0))
            for i in range(self.mixture.k)
            if i not in self.hidden
        ]

    # --- colours -------------------------------------------------------------------------------

    def recolour(self) -> None:
        if not self._opened.has_run:
            return
        self.compute_colours()
        self.coloursChanged.emit()

    def compute_colours(self) -> None:
        """One RGBA per point for the current mode (grey while its mixture is not fitted yet)."""
        o, mode = self._opened, self.mode
        if mode == "gmm-soft" and self.mixture is not None:
            self.colours = mix.blend_colours(self.mixture.responsibilities, self.component_colours())
        elif mode == "gmm-hard" and self.mixture is not None:
            self.colours = mix.hard_colours(self.mixture.labels, self.component_colours())
        elif mode == "kmeans" and self.kmeans is not None:
            self.colours = mix.hard_colours(self.kmeans.labels, mix.palette(self.kmeans.k))
        elif mode == "labels" and o.images.labels is not None:
            self.colours = mix.hard_colours(o.images.labels, mix.palette(len(o.class_names())))
        elif mode == "uncertainty":
            sigma = np.exp(0.5 * o.logvar.astype(np.float64)).mean(axis=1)
            self.colours = mix.scalar_colours(sigma)
        elif mode.startswith("factor:") and o.images.factors is not None:
            factors = o.images.factors
            column = factors.names.index(mode.split(":", 1)[1])
            self.colours = mix.scalar_colours(factors.indices[:, column].astype(float))
        elif mode == "custom" and self._custom_fits():
            c = self.custom
            self.colours = (mix.hard_colours(c.values, mix.palette(len(c.classes))) if c.classes
                            else mix.scalar_colours(c.values))
        else:
            self.colours = np.full((len(o.mu), 4), GREY, np.uint8)
