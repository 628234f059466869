"""The Compare tab: two runs on the same data side by side, to see what the VAE's prior buys.

Both sides decode the same prior samples z ~ N(0, I): an autoencoder, whose codes nothing
pulls towards the prior, decodes them to a few classes or to garbage, while a VAE's decodes
cover the data. Each side shows figures that make the mismatch measurable (see
`analysis.prior_coverage`). Runs are loaded and encoded in worker threads.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.analysis.prior_coverage import prior_samples
from latentexplorer.bundled import bundled_run
from latentexplorer.checkpoint import read_config
from latentexplorer.errors import UserError
from latentexplorer.gui.compare.compare_side import CompareSide, load_compared_run

DEFAULT_RUNS = ("digits-ae-2d", "digits-vae-2d")
PRIOR_SAMPLE_COUNT = 8


class CompareTab(QWidget):
    """Two CompareSides, a shared "Sample from prior" and the shape check between them."""

    def __init__(self, session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareTab")
        self.session = session
        self.left = CompareSide("Left")
        self.right = CompareSide("Right")
        self.left.setObjectName("compareLeft")
        self.right.setObjectName("compareRight")
        self.sample_button = QPushButton("Sample from prior")
        self.sample_button.setToolTip(f"Decode the same {PRIOR_SAMPLE_COUNT} samples z ~ N(0, I) "
                                      "on both sides and mark them on both scatters")
        self.seed = QSpinBox(minimum=0, maximum=1_000_000, prefix="seed ")
        self.seed.setToolTip("Seed of the prior samples; it moves on after each draw")
        self.hint = QLabel("The same samples of the prior decoded by both models: where the codes "
                           "do not fill N(0, I), samples decode to few classes or to garbage.")
        self.hint.setWordWrap(True)
        self._task_name = {self.left: "compare-left", self.right: "compare-right"}
        self._started = False
        top = QHBoxLayout()
        top.addWidget(self.sample_button)
        top.addWidget(self.seed)
        self.aggregate = QCheckBox("q(z) vs p(z)")
        self.aggregate.setObjectName("compareAggregate")
        self.aggregate.setToolTip("Shade each side's aggregate posterior q(z) (blue) over the prior's 1-3σ "
                                  "contours, with the holes where the prior has mass and q(z) none (red)")
        self.aggregate.toggled.connect(lambda on: [side.show_aggregate(on) for side in (self.left, self.right)])
        top.addWidget(self.aggregate)
        top.addWidget(self.hint, 1)
        sides = QHBoxLayout()
        sides.addWidget(self.left)
        sides.addWidget(self.right)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(sides, 1)
        self.sample_button.clicked.connect(self.sample_prior)
        self.left.requested.connect(lambda folder: self.load(self.left, folder))
        self.right.requested.connect(lambda folder: self.load(self.right, folder))

    def showEvent(self, event) -> None:
        """The default runs load when the tab is first shown, not with the window."""
        super().showEvent(event)
        if not self._started:
            self._started = True
            for side, name in zip((self.left, self.right), DEFAULT_RUNS):
                try:
                    self.load(side, bundled_run(name))
                except FileNotFoundError as exc:
                    self.session.report_error(str(exc))

    def other(self, side: CompareSide) -> CompareSide:
        return self.right if side is self.left else self.left

    # --- loading -----------------------------------------------------------------------------

    def load(self, side: CompareSide, folder: str | Path) -> bool:
        """Load a run on one side in a worker; refused, with a message, when its images have
        another shape than the other side's run."""
        try:
            config = read_config(folder)
        except UserError as exc:
            return self._refuse(side, str(exc))
        other = self.other(side).data
        shape = config.model.image_shape
        if other is not None and tuple(other.run.config.model.image_shape) != tuple(shape):
            return self._refuse(
                side,
                f"cannot compare {Path(folder).name} with {other.run.name}: their images have "
                f"different shapes ({_shape(shape)} and {_shape(other.run.config.model.image_shape)}); "
                "compare runs of the same data",
            )
        side.select_folder(folder)
        side.figures.setText(f"loading {Path(folder).name}…")
        # a newer choice for this side replaces the load still running: its result is dropped
        task = self.session.tasks.start(load_compared_run, Path(folder), name=self._task_name[side])
        task.result.connect(lambda data: self._loaded(side, data))
        task.failed.connect(lambda message: self._load_failed(side, message))
        return True

    def _refuse(self, side: CompareSide, message: str) -> bool:
        side.revert_chooser()
        self.session.report_error(message)
        return False

    def _loaded(self, side: CompareSide, data) -> None:
        other = self.other(side).data
        if other is not None and other.images.image_shape != data.images.image_shape:
            self._refuse(side, f"cannot compare {data.run.name} with {other.run.name}: "
                               "their images have different shapes")
            return
        side.show_run(data)

    def _load_failed(self, side: CompareSide, message: str) -> None:
        self._refuse(side, message)
        if side.data is not None:
            side.figures.setText(side.data.describe())

    # --- prior samples -----------------------------------------------------------------------

    def sample_prior(self) -> None:
        """The same seeded z ~ N(0, I) on both sides (shared leading coordinates when the
        latent sizes differ); the seed moves on so the next press draws new ones."""
        seed = self.seed.value()
        for side in (self.left, self.right):
            if side.data is not None:
                side.show_samples(prior_samples(PRIOR_SAMPLE_COUNT, side.data.latent_dim, seed), seed)
        self.seed.setValue(seed + 1)

    def shutdown(self) -> None:
        """Join the loading threads (window closing, test teardown)."""
        for name in self._task_name.values():
            self.session.tasks.wait(name)


def _shape(shape) -> str:
    c, h, w = shape
    return f"{h}×{w}" + ("" if c == 1 else f"×{c}")
