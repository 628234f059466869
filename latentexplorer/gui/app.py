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
    from latentexplorer.checkpoint import load_run
    from latentexplorer.gui.main_window import MainWindow
    from latentexplorer.logs import get_logger, setup_logging

    setup_logging()
    app = create_app()
    try:
        opened = load_run(run if run is not None else bundled_run())
    except Exception as exc:  # shown to the user, then the window opens empty
        get_logger("gui").error("could not open %s: %s", run, exc)
        opened = None
        error = str(exc)
    else:
        error = None
    window = MainWindow(opened)
    window.show()
    if error:
        window.show_error(error)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
