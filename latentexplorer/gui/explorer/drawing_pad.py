"""Your own input: draw an image with the mouse (or drop an image file) and watch the model
encode it live: its μ and posterior ellipse appear on the scatter, its reconstruction in the
preview, so a student sees where their own "7" lands and how the model reads it.

The pad paints white ink on black, as the bundled data are (digits and sprites are bright
shapes on a dark ground), on a canvas an exact multiple of the model's image size, so the
image handed to the encoder is a plain box average of the canvas, no resampling artefacts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.gui.state.session import Session

CANVAS_PX = 256
"""About the canvas's side on screen; the exact side is a multiple of the image size."""

FRAME_MARGIN = 0.1
"""Share of each side left empty around the ink when it is fitted to the frame."""


def fit_to_frame(ink: np.ndarray, margin: float = FRAME_MARGIN) -> np.ndarray:
    """Crop a drawing to its ink and scale it, keeping its aspect, to fill the frame up to a
    margin, centred: the bundled datasets are centred and fill their frame, and a small "7"
    drawn in a corner is otherwise something the model has never seen."""
    rows = np.flatnonzero(ink.max(axis=1) > 0.05)
    cols = np.flatnonzero(ink.max(axis=0) > 0.05)
    if len(rows) == 0:
        return ink
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    side = ink.shape[0]
    scale = (1.0 - 2 * margin) * side / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    # nearest-neighbour index maps: the canvas is large, so this is only a resize of strokes
    resized = crop[(np.arange(h) * crop.shape[0] / h).astype(int)][:, (np.arange(w) * crop.shape[1] / w).astype(int)]
    out = np.zeros_like(ink)
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = resized
    return out


def box_average(canvas: np.ndarray, height: int, width: int) -> np.ndarray:
    """A canvas whose sides are multiples of (height, width), averaged block by block."""
    fy, fx = canvas.shape[0] // height, canvas.shape[1] // width
    return canvas[: fy * height, : fx * width].reshape(height, fy, width, fx).mean(axis=(1, 3))


class DrawingCanvas(QWidget):
    """A square canvas painted with the mouse; `changed` fires with the image (H×W in [0, 1])
    at most once per event-loop pass while drawing. objectName `drawingCanvas`."""

    changed = Signal(object)

    def __init__(self, image_size: tuple[int, int] = (28, 28), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("drawingCanvas")
        self.fit = True
        self.pen_width = 0.0
        self._last: QPointF | None = None
        self._pending = QTimer(self, singleShot=True, interval=0)
        self._pending.timeout.connect(self._emit)
        self.set_image_size(image_size)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw with the left mouse button; the model encodes it as you draw")

    def set_image_size(self, size: tuple[int, int]) -> None:
        """Match the model: the canvas is `factor` × the image in each direction."""
        self.image_size = (int(size[0]), int(size[1]))
        factor = max(1, CANVAS_PX // max(self.image_size))
        self.canvas = QImage(self.image_size[1] * factor, self.image_size[0] * factor, QImage.Format.Format_Grayscale8)
        self.canvas.fill(0)
        # About 1.6 pixels of the model's image: the stroke width of the bundled digits and sprites.
        self.pen_width = max(6.0, 1.6 * factor) if self.pen_width == 0.0 else self.pen_width
        self.setFixedSize(self.canvas.width(), self.canvas.height())
        self.update()

    def clear(self) -> None:
        self.canvas.fill(0)
        self.update()
        self._emit()

    def ink(self) -> np.ndarray:
        """The canvas as floats in [0, 1] (H×W at canvas resolution)."""
        view = self.canvas.constBits()
        stride = self.canvas.bytesPerLine()
        raw = np.frombuffer(view, np.uint8, count=stride * self.canvas.height()).reshape(-1, stride)
        return raw[:, : self.canvas.width()].astype(np.float32) / 255.0

    def image(self) -> np.ndarray:
        """What the encoder gets: the ink (fitted to the frame when asked), box-averaged to
        the model's image size."""
        ink = self.ink()
        if self.fit:
            ink = fit_to_frame(ink)
        return box_average(ink, *self.image_size)

    def set_ink(self, ink: np.ndarray) -> None:
        """Replace the canvas by an image in [0, 1] of any size (a dropped file)."""
        ink = np.clip(np.asarray(ink, np.float32), 0.0, 1.0)
        h, w = self.canvas.height(), self.canvas.width()
        rows = (np.arange(h) * ink.shape[0] / h).astype(int)
        cols = (np.arange(w) * ink.shape[1] / w).astype(int)
        pixels = np.ascontiguousarray((ink[rows][:, cols] * 255).astype(np.uint8))
        self.canvas = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
        self.update()
        self._emit()

    def stroke(self, points: list[QPointF]) -> None:
        """Draw a stroke through widget points (the mouse, or a script)."""
        painter = QPainter(self.canvas)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(255, 255, 255), self.pen_width, Qt.PenStyle.SolidLine,
                            Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        if len(points) == 1:
            painter.drawPoint(points[0])
        for a, b in zip(points, points[1:]):
            painter.drawLine(a, b)
        painter.end()
        self.update()
        if not self._pending.isActive():
            self._pending.start()

    def _emit(self) -> None:
        self.changed.emit(self.image())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._last = event.position()
            self.stroke([self._last])

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._last is not None and event.buttons() & Qt.MouseButton.LeftButton:
            point = event.position()
            self.stroke([self._last, point])
            self._last = point

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._last = None

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawImage(0, 0, self.canvas)
        painter.end()


def read_image_file(path: str | Path) -> np.ndarray:
    """An image file as grey ink in [0, 1], bright on dark like the pad (a dark drawing on a
    light page is inverted). Raises ValueError for what Qt cannot read."""
    image = QImage(str(path))
    if image.isNull():
        raise ValueError(f"{Path(path).name} is not an image Qt can read (PNG, JPEG, BMP, GIF…)")
    grey = image.convertToFormat(QImage.Format.Format_Grayscale8)
    stride = grey.bytesPerLine()
    raw = np.frombuffer(grey.constBits(), np.uint8, count=stride * grey.height()).reshape(-1, stride)
    ink = raw[:, : grey.width()].astype(np.float32) / 255.0
    border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    return 1.0 - ink if border.mean() > 0.5 else ink


class DrawingPad(QDialog):
    """A window with the canvas and its controls, encoding into the session as you draw.
    objectName `drawingPad`. Accepts image files dropped on it."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("drawingPad")
        self.setWindowTitle("Draw your own input")
        self.session = session
        self.canvas = DrawingCanvas(self._image_size())
        self.preview = QLabel()
        self.preview.setObjectName("drawingInputPreview")
        self.preview.setToolTip("What the encoder receives, at the model's resolution")
        self.fit = QCheckBox("Fit to the frame like the data")
        self.fit.setChecked(True)
        self.fit.setToolTip("Crop to the ink and centre it, filling the frame as the training images do")
        self.fit.toggled.connect(self._fit_toggled)
        self.width_slider = QSlider(Qt.Orientation.Horizontal, minimum=2, maximum=60)
        self.width_slider.setValue(round(self.canvas.pen_width))
        self.width_slider.setToolTip("Pen width in screen pixels")
        self.width_slider.valueChanged.connect(self._width_changed)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.canvas.clear)
        self.open_button = QPushButton("Open image…")
        self.open_button.clicked.connect(self._open_file)
        self.note = QLabel("Draw with the mouse, or drop an image file here. Each stroke is encoded "
                           "at once: μ and the posterior ellipse appear on the scatter, the "
                           "reconstruction in the preview.")
        self.note.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Pen"))
        controls.addWidget(self.width_slider)
        controls.addWidget(self.clear_button)
        controls.addWidget(self.open_button)
        top = QHBoxLayout()
        top.addWidget(self.canvas)
        side = QVBoxLayout()
        side.addWidget(QLabel("The encoder's input:"))
        side.addWidget(self.preview)
        side.addStretch(1)
        top.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addLayout(top)
        layout.addWidget(self.fit)
        layout.addLayout(controls)
        self.setAcceptDrops(True)
        self.encoded = 0  # images handed to the session (coalesced: ≤ strokes)
        self.canvas.changed.connect(self._encode)
        session.opened.runChanged.connect(self._run_changed)

    def _image_size(self) -> tuple[int, int]:
        if self.session.opened.run is None:
            return (28, 28)
        _, h, w = self.session.opened.run.config.model.image_shape
        return (h, w)

    def _run_changed(self) -> None:
        if self._image_size() != self.canvas.image_size:
            self.canvas.set_image_size(self._image_size())
            self.adjustSize()

    def _fit_toggled(self, on: bool) -> None:
        self.canvas.fit = on
        self.canvas.changed.emit(self.canvas.image())

    def _width_changed(self, value: int) -> None:
        self.canvas.pen_width = float(value)

    def _encode(self, image: np.ndarray) -> None:
        from latentexplorer.gui.widgets import images as im

        channels = self.session.opened.run.config.model.image_shape[0] if self.session.opened.run is not None else 1
        chw = np.repeat(image[None], channels, axis=0)
        self.preview.setPixmap(im.image_pixmap(chw, 96))
        if not self.session.opened.has_run:
            return
        if image.max() <= 0.0:
            self.session.selection.clear()  # a cleared pad: nothing to read
            return
        self.encoded += 1
        self.session.selection.encode_image(chw)

    def load_file(self, path: str | Path) -> bool:
        try:
            ink = read_image_file(path)
        except ValueError as exc:
            self.session.report_error(str(exc))
            return False
        self.canvas.set_ink(ink)
        return True

    def _open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image", "", "Images (*.png *.jpg *.jpeg *.bmp *.gif)")
        if path:
            self.load_file(path)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls:
            self.load_file(urls[0].toLocalFile())
            event.acceptProposedAction()
