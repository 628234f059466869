"""The decoder preview: a selected item (original, reconstruction, posterior samples), a
decoded location with its nearest item, prior samples, and the interpolation strip."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.gui.explorer.preview_tiles import (
    ICON,
    SMALLEST,
    STRIP,
    TILE,
    ImageTile,
    reading_layout,
    tile_layout,
)
from latentexplorer.gui.state.previews import (
    CaptionPreview,
    DrawingPreview,
    InterpolationPreview,
    LocationPreview,
    PointPreview,
    SamplesPreview,
)
from latentexplorer.gui.state.selection import POSTERIOR_SAMPLES
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets import images as im
from latentexplorer.gui.widgets.after_paint import AfterPaint


class DecoderPreview(QWidget):
    """objectName `decoderPreview`. `shown` keeps the uint8 images last handed to the screen."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("decoderPreview")
        self.session = session
        self.shown: dict[str, np.ndarray] = {}
        self.preview = None
        self.neighbours = np.zeros(0, np.int64)  # items on the neighbour buttons
        self._used: set[int] = set()  # tiles the preview being shown has filled
        self.title = QLabel("Click a point to see it decoded; click empty space to decode that place; "
                            "drag from a point to interpolate.")
        self.title.setWordWrap(True)
        self.title.setObjectName("previewTitle")
        self.tiles = [ImageTile() for _ in range(6)]
        self.tiles_grid = QGridLayout()
        self.tiles_grid.setAlignment(Qt.AlignmentFlag.AlignHCenter)  # tiles side by side, not spread
        self._arrangement: tuple = ()  # ("grid", columns) or ("reading",): see reading_layout
        self._fitted_reading = False
        self._count = 0  # the number of tiles they were chosen for
        for t in self.tiles:
            t.hide()
        self.info = QLabel()
        self.info.setObjectName("previewInfo")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.neighbour_label = QLabel("Nearest neighbours in latent space (click to select):")
        self.neighbour_buttons = []
        neighbours = QHBoxLayout()
        for _ in range(6):
            button = QToolButton()
            button.setIconSize(QSize(56, 56))
            button.clicked.connect(self._neighbour_clicked)
            button.hide()
            self.neighbour_buttons.append(button)
            neighbours.addWidget(button)
        neighbours.addStretch(1)
        self.neighbour_label.hide()

        self.strip = QLabel()
        self.strip.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.strip.setObjectName("interpolationStrip")
        self.strip.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.strip.setToolTip("Decoded frames from the start point (t = 0) to the end (t = 1)")
        self.frames_spin = QSpinBox(minimum=2, maximum=30, value=session.selection.frames)
        self.frames_spin.setToolTip("Number of interpolation frames, both ends included")
        self.frames_spin.valueChanged.connect(session.selection.set_frames)
        self.method = QComboBox()
        self.method.addItem("lerp", "lerp")
        self.method.addItem("slerp", "slerp")
        self.method.setToolTip("lerp: straight line in latent space; slerp: along a great circle, "
                               "keeping the norm typical of prior samples")
        self.method.currentIndexChanged.connect(lambda _: session.selection.set_path_method(self.method.currentData()))
        self.save_png = QPushButton("Save PNG…")
        self.save_png.setToolTip("Save the interpolation strip as one PNG image")
        self.save_gif = QPushButton("Save GIF…")
        self.save_gif.setToolTip("Save the interpolation as an animated GIF")
        self.save_png.clicked.connect(self._save_strip_png)
        self.save_gif.clicked.connect(self._save_strip_gif)
        for b in (self.save_png, self.save_gif):
            b.setEnabled(False)
        strip_controls = QHBoxLayout()
        frames_label = QLabel("Frames")
        frames_label.setToolTip("Interpolation frames, both ends included")
        strip_controls.addWidget(frames_label)
        strip_controls.addWidget(self.frames_spin)
        strip_controls.addWidget(self.method)
        strip_controls.addStretch(1)
        strip_controls.addWidget(self.save_png)
        strip_controls.addWidget(self.save_gif)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(self.tiles_grid)
        layout.addWidget(self.info)
        layout.addWidget(self.neighbour_label)
        layout.addLayout(neighbours)
        layout.addWidget(self.strip)
        layout.addLayout(strip_controls)
        layout.addStretch(1)
        # The neighbours (a search over all codes) come after the reconstruction has been
        # painted: a click shows its point at once.
        self._neighbours_later = AfterPaint(self._show_neighbours, self)
        session.selection.previewChanged.connect(self.show_preview)
        session.selection.samplesDecoded.connect(self._samples_decoded)
        session.opened.runChanged.connect(lambda: self.show_preview(None))
        # Sizes follow the space the pane is given (its scroll area's viewport), computed once
        # a resize settles: a click draws at the chosen size and never rescales on paint.
        self._fit_later = QTimer(self, singleShot=True, interval=20, timeout=self.fit_to_space)
        self._watched: QObject | None = None
        self.fit_to_space()

    # --- sizing ----------------------------------------------------------------------------

    def space(self) -> QSize:
        """What the pane may fill: its parent's area (a scroll area's viewport) when it has one,
        since the pane itself never gets narrower than its contents."""
        parent = self.parentWidget()
        return parent.size() if parent is not None else self.size()

    def fit_to_space(self, count: int | None = None) -> None:
        """Choose the tiles' columns and size for `count` tiles (those shown) and redraw what is
        shown at that size: the tiles, the strip, the neighbours' icons."""
        count = self._count = count or max(len(self._used), 1)
        self._fitted_reading = self._reading(self.preview)
        space = self.space()
        width, height = space.width() - 24, space.height() - self._other_rows()
        caption_width = self.tiles[0].caption.fontMetrics().horizontalAdvance("reconstruction") + 8
        columns, size = tile_layout(count, width, height, caption_width)
        sizes = [size] * len(self.tiles)
        arrangement: tuple = ("grid", columns)
        if count == 2 + POSTERIOR_SAMPLES and self._fitted_reading:
            primary, secondary = reading_layout(width, height)
            if primary > size and secondary >= SMALLEST and 4 * (max(secondary, caption_width) + 12) <= width:
                arrangement = ("reading",)
                sizes = [primary] * 2 + [secondary] * (len(self.tiles) - 2)
        if arrangement != self._arrangement:
            self._arrangement = arrangement
            for i, t in enumerate(self.tiles):
                if arrangement == ("reading",):
                    self.tiles_grid.addWidget(t, 0 if i < 2 else 1, 2 * i if i < 2 else i - 2, 1, 2 if i < 2 else 1)
                else:
                    self.tiles_grid.addWidget(t, i // columns, i % columns)
        for t, tile_size in zip(self.tiles, sizes):
            t.set_size(tile_size)
        icon = max(40, min(ICON, sizes[0] // 2))
        for b in self.neighbour_buttons:
            b.setIconSize(QSize(icon, icon))
        if "frames" in self.shown and isinstance(self.preview, InterpolationPreview):
            self._show_strip(list(self.shown["frames"]))

    @staticmethod
    def _reading(preview) -> bool:
        """An input beside how the model reads it: the tiles can take the reading layout."""
        return isinstance(preview, (PointPreview, DrawingPreview))

    def _other_rows(self) -> int:
        """The height of the rows that are not tiles, counted whether shown or not (title, four
        lines of text, the neighbours' label and icons, strip and its controls), so that no
        preview pushes the strip out of view."""
        layout = self.layout()
        margins = layout.contentsMargins()
        return (6 * self.fontMetrics().lineSpacing() + ICON + 12 + STRIP + self.frames_spin.sizeHint().height()
                + 7 * layout.spacing() + margins.top() + margins.bottom())

    def event(self, e: QEvent) -> bool:
        if e.type() in (QEvent.Type.Show, QEvent.Type.ParentChange) and self.parentWidget() is not self._watched:
            if self._watched is not None:
                self._watched.removeEventFilter(self)
            self._watched = self.parentWidget()
            if self._watched is not None:
                self._watched.installEventFilter(self)
        if e.type() == QEvent.Type.Resize:
            self._fit_later.start()
        return super().event(e)

    def eventFilter(self, watched: QObject, e: QEvent) -> bool:
        if watched is self._watched and e.type() == QEvent.Type.Resize:
            self._fit_later.start()
        return False

    # --- rendering -------------------------------------------------------------------------

    def _tile(self, i: int, key: str, image: np.ndarray, caption: str) -> None:
        self.shown[key] = im.to_uint8(image)
        self.tiles[i].show_pixels(self.shown[key], caption)
        self._used.add(i)

    def show_preview(self, preview) -> None:
        """Show a preview. Tiles it reuses stay shown (hiding and showing them again would
        lay the pane out anew on every click)."""
        self.preview = preview
        self._used = set()
        if isinstance(preview, InterpolationPreview):
            self._show_interpolation(preview)
            return
        self.info.clear()
        self._show(preview)
        for i, tile in enumerate(self.tiles):
            if i not in self._used and not tile.isHidden():
                tile.hide()
        if self._used and (len(self._used), self._reading(preview)) != (self._count, self._fitted_reading):
            self.fit_to_space()  # only when the number of tiles or their arrangement changes
        elif isinstance(preview, PointPreview) and self.isVisible():
            # A click: the item and its reconstruction are painted now, ahead of the rest of
            # the press's handling (pyqtgraph's, the scatter's ring, the sliders, the text).
            for tile in self.tiles[:2]:
                tile.picture.repaint()
        if not isinstance(preview, PointPreview):
            for b in self.neighbour_buttons:
                b.hide()
            self.neighbour_label.hide()

    def _show(self, preview) -> None:
        if preview is None:
            self.shown = {}
            self.title.setText("Click a point to see it decoded; click empty space to decode that "
                               "place; drag from a point to interpolate.")
        elif isinstance(preview, PointPreview):
            self._show_point(preview)
        elif isinstance(preview, LocationPreview):
            self._show_location(preview)
        elif isinstance(preview, DrawingPreview):
            self._show_drawing(preview)
        elif isinstance(preview, CaptionPreview):
            self._show_captions(preview)
        elif isinstance(preview, SamplesPreview):
            self.title.setText(preview.title)
            for i, image in enumerate(preview.images[: len(self.tiles)]):
                self._tile(i, f"sample{i}", image, f"z = {_vector(preview.zs[i], 3)}")

    def _show_captions(self, p: CaptionPreview) -> None:
        """A model without a decoder: the image and its best-matching captions, no reconstruction."""
        self.title.setText(f"Item {p.index}" + (f", label {p.label}" if p.label else ""))
        self._tile(0, "original", p.original, "image x")
        lines = ["Best-matching captions (cosine similarity):"]
        lines += [f"{i + 1}. {text}  ({score:.3f})" for i, (text, score) in enumerate(zip(p.captions, p.scores))]
        if p.true_caption:
            lines.append(f"its factors say: {p.true_caption}")
        self.info.setText("\n".join(lines))

    def _show_reading(self, key: str, image: np.ndarray, caption: str,
                      p: PointPreview | DrawingPreview) -> list[str]:
        """An input beside how the model reads it: the reconstruction decode(μ), decodes of
        z ~ q(z|x) (VAEs), and the lines giving μ and σ."""
        self._tile(0, key, image, caption)
        self._tile(1, "reconstruction", p.reconstruction, "reconstruction\ndecode(μ)")
        variational = self.session.opened.run.config.model.is_variational
        if variational:
            self._show_samples(p)
        lines = [f"μ = {_vector(p.mu)}"]
        if variational:
            lines.append(f"σ = {_vector(p.sigma)}")
        return lines

    def _show_samples(self, p: PointPreview | DrawingPreview) -> None:
        """The decodes of z ~ q(z|x). While a click's samples are still to come, their tiles keep
        their place (and last pictures, for the millisecond until the new ones): the pane is not
        laid out twice for one click."""
        if getattr(p, "samples_pending", False):
            self._used.update(range(2, 2 + POSTERIOR_SAMPLES))
            return
        for i, sample in enumerate(p.samples[:POSTERIOR_SAMPLES]):
            self._tile(2 + i, f"posterior{i}", sample, f"z ~ q(z|x)\nsample {i + 1}")

    def _samples_decoded(self, p: PointPreview) -> None:
        if isinstance(self.preview, PointPreview) and self.preview.index == p.index:
            self.preview = p
            self._show_samples(p)

    def _show_point(self, p: PointPreview) -> None:
        label = f", label {p.label}" if p.label else ""
        self.title.setText(f"Item {p.index}{label}")
        lines = self._show_reading("original", p.original, "original x", p)
        if p.responsibilities is not None:
            order = np.argsort(p.responsibilities)[::-1]
            lines.append(
                "responsibilities: "
                + ", ".join(f"component {i + 1}: {p.responsibilities[i]:.1%}" for i in order[:4]
                            if p.responsibilities[i] >= 0.001)
            )
        self.info.setText("\n".join(lines))
        self.neighbour_label.show()
        self._neighbours_later.request()

    def _show_drawing(self, p: DrawingPreview) -> None:
        self.title.setText("Your input, as the model reads it")
        lines = self._show_reading("drawing", p.image, "your input x", p)
        labels = [label for label in p.nearest_labels if label]
        if labels:
            counts: dict[str, int] = {}
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
            common = max(counts, key=counts.get)
            lines.append(f"its {len(labels)} nearest data codes are labelled {' '.join(labels)}: "
                         f"the model places it among the {common}s")
        self.info.setText("\n".join(lines))

    def _show_neighbours(self) -> None:
        p = self.preview
        if not isinstance(p, PointPreview) or not self.session.opened.has_run:
            return
        neighbours, images = self.session.opened.neighbours_of(p.index, len(self.neighbour_buttons))
        self.neighbours = neighbours
        for button in self.neighbour_buttons[len(neighbours):]:
            button.hide()
        for button, index, image in zip(self.neighbour_buttons, neighbours, images):
            button.setIcon(QIcon(im.image_pixmap(image, 56)))
            button.setProperty("item", int(index))
            button.setToolTip(f"item {int(index)} {self.session.opened.label_of(int(index))}")
            if button.isHidden():
                button.show()

    def _show_location(self, p: LocationPreview) -> None:
        if p.source == "slider" and p.original is not None:
            self.title.setText(f"Item {self.session.selection.selected}, perturbed with the sliders")
            self._tile(0, "original", p.original, "original x")
            self._tile(1, "decoded", p.image, "decode(z)")
            self._tile(2, "nearest", p.nearest_image, f"nearest item {p.nearest}\n|Δz| = {p.distance:.2f}")
        else:
            self.title.setText("A latent location, decoded")
            self._tile(0, "decoded", p.image, "decode(z)")
            self._tile(1, "nearest", p.nearest_image, f"nearest item {p.nearest}\n|Δz| = {p.distance:.2f}")
        typical = np.sqrt(self.session.opened.latent_dim)
        support = "well supported by data" if p.distance < 0.25 * typical else "far from any data item"
        self.info.setText(f"z = {_vector(p.z)}\ndistance to the nearest item's μ: {p.distance:.3f} ({support})")

    def _show_strip(self, frames: list[np.ndarray]) -> None:
        """The frames side by side as large as the pane's width allows (at most a tile)."""
        size = max(24, min(self.tiles[0].size_px, (self.space().width() - 40) // len(frames) - 2))
        self.shown["strip"] = im.grid([im.upscale(f, size) for f in frames], columns=len(frames))
        self.strip.setPixmap(im.rgb_to_pixmap(self.shown["strip"]))

    def _show_interpolation(self, p: InterpolationPreview) -> None:
        self.shown["frames"] = np.stack([im.to_uint8(f) for f in p.frames])
        self._show_strip(list(self.shown["frames"]))
        end = f"item {p.end}" if p.end is not None else "a latent location"
        self.title.setText(f"Interpolation ({p.method}) from item {p.start} to {end}, {len(p.frames)} frames")
        for b in (self.save_png, self.save_gif):
            b.setEnabled(True)

    def _neighbour_clicked(self) -> None:
        index = self.sender().property("item")
        if index is not None:
            self.session.selection.select(int(index))

    # --- export ----------------------------------------------------------------------------

    def current_image(self) -> np.ndarray | None:
        """The picture Ctrl+C / Ctrl+S take: the visible tiles as one image, else the strip."""
        tiles = [v for k, v in self.shown.items() if k not in ("strip", "frames")]
        if tiles and self.preview is not None and not isinstance(self.preview, InterpolationPreview):
            images = np.stack([t.transpose(2, 0, 1) / 255.0 for t in tiles])
            return im.tile(images, columns=len(images), size=TILE)
        return self.shown.get("strip")

    def _save_strip_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save interpolation strip", "interpolation.png", "PNG (*.png)")
        if path:
            im.save_png(self.shown["strip"], path, self.session.opened.provenance())

    def _save_strip_gif(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save interpolation", "interpolation.gif", "GIF (*.gif)")
        if path and isinstance(self.preview, InterpolationPreview):
            im.save_gif(self.preview.frames, path)
        elif path and "frames" in self.shown:
            im.save_gif(self.shown["frames"].transpose(0, 3, 1, 2) / 255.0, path)


def _vector(v: np.ndarray, limit: int = 8) -> str:
    v = np.asarray(v, float)
    text = ", ".join(f"{x:+.2f}" for x in v[:limit])
    return f"({text}{', …' if len(v) > limit else ''})"
