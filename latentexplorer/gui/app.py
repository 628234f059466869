"""QApplication set-up and the GUI entry point (`latentexplorer`, `latentexplorer-gui`)."""

from __future__ import annotations

import sys

from latentexplorer import __version__


def create_app(argv: list[str] | None = None):
    """The QApplication with the project's names and icon (created once per process)."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("LatentExplorer")
    app.setOrganizationName("LatentExplorer")
    app.setApplicationVersion(__version__)
    try:
        from latentexplorer.bundled import bundled_path

        app.setWindowIcon(QIcon(str(bundled_path("resources", "latentexplorer.svg"))))
    except FileNotFoundError:
        pass
    return app


def start_window(run: str | None = None):
    """The main window, shown and opened on `run` (default: the bundled digits VAE)."""
    import gc

    from latentexplorer.bundled import bundled_run
    from latentexplorer.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if run is None:
        window.session.open_run(bundled_run())
    else:
        window.open_run(run)
    # torch, scikit-learn and pyqtgraph leave ~400k long-lived objects; a full collection
    # walking them all took 100-250 ms, a visible freeze whenever it fell in the GUI thread.
    gc.freeze()
    return window


def main(run: str | None = None) -> int:
    """Open the main window on `run` (default: the bundled digits VAE) and run the app."""
    from latentexplorer.logs import setup_logging

    setup_logging()
    app = create_app()
    window = start_window(run)  # noqa: F841 (kept alive while the app runs)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
