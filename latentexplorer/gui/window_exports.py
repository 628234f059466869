"""What the main window writes out: File ▸ Export codes, scatter, preview and projector, and
Edit ▸ Copy preview. Kept beside the window, not in it, so each export has room for what it
carries."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from latentexplorer.gui.widgets import images as im
from latentexplorer.provenance import stamp_figure

if TYPE_CHECKING:
    from latentexplorer.analysis.projector import ProjectorExport
    from latentexplorer.gui.tasks import Task


class WindowExports:
    def __init__(self, window) -> None:
        self.window = window

    def copy_preview(self) -> None:
        image = self.window.preview.current_image()
        if image is not None:
            QGuiApplication.clipboard().setPixmap(im.rgb_to_pixmap(image))
            self.window.statusBar().showMessage("preview copied to the clipboard", 3000)

    def export_preview(self) -> None:
        image = self.window.preview.current_image()
        if image is None:
            self.window.show_error("nothing to export yet: click a point or drag between two points first")
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Export preview", "preview.png", "PNG (*.png)")
        if path:
            im.save_png(image, path, self.window.session.opened.provenance())

    def export_scatter(self) -> None:
        import pyqtgraph.exporters as exporters

        path, chosen = QFileDialog.getSaveFileName(self.window, "Export scatter", "scatter.png", "PNG (*.png);;SVG (*.svg)")
        if not path:
            return
        if path.lower().endswith(".svg"):
            self._render_svg(path)
        else:
            exporters.ImageExporter(self.window.scatter.plot.getPlotItem()).export(path)
        stamp_figure(path, self.window.session.opened.provenance())

    def _render_svg(self, path: str) -> None:
        """The plot as the screen shows it, through Qt's SVG painter: pyqtgraph's SVGExporter
        fails on this plot (its coordinate rewriting meets a transform it cannot parse)."""
        from PySide6.QtGui import QPainter
        from PySide6.QtSvg import QSvgGenerator
        from PySide6.QtWidgets import QGraphicsItem

        view = self.window.scatter.plot
        axes = [view.getAxis(side) for side in ("left", "bottom", "right", "top")]
        modes = [axis.cacheMode() for axis in axes]
        for axis in axes:  # cached axes would be drawn as pictures, not as lines and text
            axis.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        generator = QSvgGenerator()
        generator.setFileName(path)
        generator.setSize(view.size())
        generator.setViewBox(view.rect())
        generator.setTitle("LatentExplorer scatter")
        painter = QPainter(generator)
        try:
            view.render(painter)
        finally:
            painter.end()
            for axis, mode in zip(axes, modes):
                axis.setCacheMode(mode)

    def export_codes(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export latent codes", "codes.npz", "NPZ (*.npz);;CSV (*.csv)")
        if path:
            from latentexplorer.analysis.code_table import write_codes

            write_codes(self.window.session.codes_table(), path)

    def export_projector(self, folder: str | None = None) -> Task | None:
        """File ▸ Export projector…: μ, labels, the GMM assignment shown and a sprite, for the
        Embedding Projector; in a task, since a sprite of 100,000 items takes seconds."""
        s = self.window.session
        if not s.opened.has_run:
            return None
        folder = folder or QFileDialog.getExistingDirectory(self.window, "Export for the Embedding Projector")
        if not folder:
            return None
        from latentexplorer.analysis.projector import export_projector

        o, mixture = s.opened, s.colouring.mixture
        assignment = None if mixture is None or len(mixture.labels) != len(o.mu) else mixture.labels
        s.report_busy(True, "writing the projector files…")
        task = s.tasks.start(partial(export_projector, folder, o.mu, o.images, assignment,
                                     tensor_name=o.run.name), name="projector")
        task.result.connect(self._projector_written)
        task.failed.connect(lambda message: (s.report_busy(False), s.report_error(message)))
        task.cancelled.connect(lambda: s.report_busy(False))
        return task

    def _projector_written(self, written: ProjectorExport) -> None:
        self.window.session.report_busy(False)  # clears the status bar: the summary comes after
        self.window.statusBar().showMessage("; ".join([written.summary(), *written.notes]), 10_000)
