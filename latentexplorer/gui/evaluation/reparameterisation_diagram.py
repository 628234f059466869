"""A small drawing of the reparameterisation trick, shown beside the ELBO's formula.

x → encoder → μ, σ;  ε ~ N(0, I);  z = μ + σ ⊙ ε → decoder → p(x|z). The sampling sits in ε,
outside the network, so the gradient of the ELBO flows back through μ and σ to the encoder.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

# (label, x, y, w, h) in a 560 × 150 design space, scaled to the widget
BOXES = {
    "x": ("x", 8, 50, 34, 34),
    "encoder": ("encoder", 62, 44, 84, 46),
    "mu": ("μ", 170, 22, 40, 30),
    "sigma": ("σ", 170, 82, 40, 30),
    "eps": ("ε ~ N(0, I)", 222, 118, 100, 28),
    "z": ("z = μ + σ ⊙ ε", 240, 50, 120, 34),
    "decoder": ("decoder", 382, 44, 84, 46),
    "px": ("p(x|z)", 488, 50, 64, 34),
}
FORWARD = [("x", "encoder"), ("encoder", "mu"), ("encoder", "sigma"), ("mu", "z"), ("sigma", "z"),
           ("eps", "z"), ("z", "decoder"), ("decoder", "px")]
GRADIENT = [("z", "mu"), ("z", "sigma"), ("mu", "encoder"), ("sigma", "encoder")]
DESIGN = QSize(560, 150)


class ReparameterisationDiagram(QWidget):
    """Boxes and arrows: black for the forward pass, dashed red for the gradient's path."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reparameterisationDiagram")
        self.setMinimumSize(DESIGN.width() * 3 // 4, DESIGN.height() * 3 // 4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(
            "The reparameterisation trick: z = μ + σ ⊙ ε with ε ~ N(0, I). The randomness is in ε, "
            "outside the network, so the gradient flows through μ and σ to the encoder, not through "
            "the sampling."
        )

    def sizeHint(self) -> QSize:
        return DESIGN

    def heightForWidth(self, width: int) -> int:
        return width * DESIGN.height() // DESIGN.width()

    def _rect(self, name: str) -> QRectF:
        _, x, y, w, h = BOXES[name]
        return QRectF(x, y, w, h)

    def paintEvent(self, event) -> None:  # noqa: ARG002
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scale = min(self.width() / DESIGN.width(), self.height() / DESIGN.height())
        painter.scale(scale, scale)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        gradient = QColor(200, 40, 40)
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF()))
        painter.setFont(font)
        for a, b in FORWARD:
            self._arrow(painter, self._rect(a), self._rect(b), QPen(text, 1.4), 0.0)
        for a, b in GRADIENT:
            pen = QPen(gradient, 1.6, Qt.PenStyle.DashLine)
            self._arrow(painter, self._rect(a), self._rect(b), pen, 7.0)
        for name, (label, *_rest) in BOXES.items():
            rect = self._rect(name)
            painter.setPen(QPen(text, 1.2))
            fill = self.palette().color(QPalette.ColorRole.Base)
            if name == "eps":
                fill = QColor(235, 235, 235) if fill.lightness() > 128 else QColor(60, 60, 60)
            painter.setBrush(fill)
            painter.drawRoundedRect(rect, 6, 6)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
        painter.setPen(gradient)
        painter.drawText(QRectF(150, 0, 260, 18), Qt.AlignmentFlag.AlignCenter, "∇ through μ and σ, not through ε")
        painter.end()

    @staticmethod
    def _arrow(painter: QPainter, start: QRectF, end: QRectF, pen: QPen, offset: float) -> None:
        """A straight arrow between two boxes' edges, shifted sideways by `offset`."""
        a, b = start.center(), end.center()
        direction = b - a
        length = max((direction.x() ** 2 + direction.y() ** 2) ** 0.5, 1e-6)
        unit = QPointF(direction.x() / length, direction.y() / length)
        normal = QPointF(-unit.y() * offset, unit.x() * offset)
        p0, p1 = _edge_point(start, unit) + normal, _edge_point(end, -unit) + normal
        painter.setPen(pen)
        path = QPainterPath(p0)
        path.lineTo(p1)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        head = QPolygonF([
            p1, p1 - unit * 8 + QPointF(-unit.y(), unit.x()) * 4, p1 - unit * 8 - QPointF(-unit.y(), unit.x()) * 4,
        ])
        painter.setBrush(pen.color())
        painter.setPen(QPen(pen.color(), 1))
        painter.drawPolygon(head)


def _edge_point(rect: QRectF, unit: QPointF) -> QPointF:
    """Where a ray from the rectangle's centre along `unit` leaves it."""
    c = rect.center()
    tx = rect.width() / 2 / abs(unit.x()) if abs(unit.x()) > 1e-9 else float("inf")
    ty = rect.height() / 2 / abs(unit.y()) if abs(unit.y()) > 1e-9 else float("inf")
    t = min(tx, ty)
    return QPointF(c.x() + unit.x() * t, c.y() + unit.y() * t)
