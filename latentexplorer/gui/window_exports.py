"""What the main window writes out: File ▸ Export codes, scatter and preview, and Edit ▸ Copy
preview. Kept beside the window, not in it, so each export has room for what it carries."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from latentexplorer.gui.widgets import images as im


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
            im.save_png(image, path)

    def export_scatter(self) -> None:
        import pyqtgraph.exporters as exporters

        path, chosen = QFileDialog.getSaveFileName(self.window, "Export scatter", "scatter.png", "PNG (*.png);;SVG (*.svg)")
        if not path:
            return
        item = self.window.scatter.plot.getPlotItem()
        exporter = exporters.SVGExporter(item) if path.endswith(".svg") else exporters.ImageExporter(item)
        exporter.export(path)

    def export_codes(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export latent codes", "codes.npz", "NPZ (*.npz);;CSV (*.csv)")
        if path:
            from latentexplorer.analysis.code_table import write_codes

            write_codes(self.window.session.codes_table(), path)

