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


def main(run: str | None = None) -> int:
    """Open the main window on `run` (default: the bundled digits VAE)."""
    from latentexplorer.bundled import bundled_run
    from latentexplorer.gui.main_window import MainWindow
    from latentexplorer.logs import setup_logging

    setup_logging()
    app = create_app()
    window = MainWindow()
    window.show()
    if run is None:
        window.session.open_run(bundled_run())
    else:
        window.open_run(run)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
