"""QApplication set-up and the GUI entry point (`latentexplorer`, `latentexplorer-gui`)."""

from __future__ import annotations

import gc
import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer

from latentexplorer.version import __version__

REPORT_READY_ENV = "LATENTEXPLORER_REPORT_READY"
"""Set to 1 and the app prints `ready <unix time>` once the window has painted its scatter,
`coloured <unix time> <peak RSS bytes>` once the GMM colours are drawn, then quits
(benchmarks/startup.py and memory.py time the start-up of the app as a user starts it)."""

FIT_FALLBACK_MS = 2000
"""Start the deferred mixture fit after this long even if the scatter has not painted
(a window that starts hidden or minimised)."""


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


def peak_rss_bytes() -> int:
    """The process's peak resident set size (VmHWM), 0 where /proc is absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class StartupSequence(QObject):
    """What the first picture does not need, run once it is up: the window paints its scatter
    (grey), then the mixture is fitted in a worker and colours it. Fitting earlier, even in a
    thread, would hold the GIL (scikit-learn's import) while the window tries to appear.

    `painted`: the scatter has painted the run's points; `coloured`: the mixture's colours
    exist. A window that never paints (hidden) starts the fit after FIT_FALLBACK_MS."""

    def __init__(self, window, report: bool = False) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.report = report
        self.painted = False
        self.coloured = False
        self._target = _paint_target(window.scatter)
        self._after_paint = None
        self._after_next_paint(self._first_picture_done)
        self.session.colouring.coloursChanged.connect(self._colours_changed)
        self._fallback = QTimer(self, singleShot=True, interval=FIT_FALLBACK_MS)
        self._fallback.timeout.connect(self._start_fit)
        self._fallback.start()

    def _after_next_paint(self, callback) -> None:
        """Call `callback` once the scatter has finished its next paint of an open run."""
        self._after_paint = callback
        self._target.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self._target and event.type() == QEvent.Type.Paint
                and self.session.opened.has_run and self._after_paint is not None):
            self._target.removeEventFilter(self)
            QTimer.singleShot(0, self._after_paint)  # runs once this paint has finished
            self._after_paint = None
        return False

    def _first_picture_done(self) -> None:
        self.painted = True
        if self.report:
            print(f"ready {time.time():.6f}", flush=True)
        if self.session.colouring.mixture is None:
            self._start_fit()
            return
        if not self.coloured:  # a run opened with its fit: this very picture is coloured
            self._mark_coloured()
        if self.report:
            self._report_coloured()

    def _start_fit(self) -> None:
        self._fallback.stop()
        s = self.session
        if s.opened.has_run and s.colouring.mixture is None and not s.fitting:
            s.refit(background=True)

    def _colours_changed(self) -> None:
        if self.coloured or self.session.colouring.mixture is None:
            return
        self._mark_coloured()
        if self.report and self.painted:  # else the first picture, still to come, reports
            self._after_next_paint(self._report_coloured)

    def _mark_coloured(self) -> None:
        self.coloured = True
        self._fallback.stop()
        self.session.colouring.coloursChanged.disconnect(self._colours_changed)
        gc.freeze()  # what scikit-learn's import left is long-lived too (see start_window)

    def _report_coloured(self) -> None:
        print(f"coloured {time.time():.6f} {peak_rss_bytes()}", flush=True)
        self.window.close()


def _paint_target(scatter) -> QObject:
    """The widget the scatter's points are painted on (a graphics view's viewport)."""
    viewport = getattr(getattr(scatter, "plot", None), "viewport", None)
    return viewport() if callable(viewport) else scatter


def start_window(run: str | None = None, opened: tuple | None = None):
    """The main window, shown and opened on `run` (default: the bundled digits VAE), or on
    `opened`, an in-memory (Run, ImageSet) such as a user's own model (`latentexplorer open`).

    The bundled model's points appear first, grey; its mixture is fitted in a worker once the
    window has painted them (see StartupSequence)."""
    from latentexplorer.bundled import bundled_run
    from latentexplorer.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if opened is not None:
        window.session.use_model(*opened, fit=False)
        window.remember_model(opened[0])
    elif run is None:
        window.session.open_run(bundled_run(), fit=False)
    else:
        window.open_run(run)
    window.startup = StartupSequence(window, report=os.environ.get(REPORT_READY_ENV) == "1")
    # torch, scikit-learn and pyqtgraph leave ~400k long-lived objects; a full collection
    # walking them all took 100-250 ms, a visible freeze whenever it fell in the GUI thread.
    gc.freeze()
    return window


def main(run: str | None = None, opened: tuple | None = None) -> int:
    """Open the main window on `run` (default: the bundled digits VAE), or on an in-memory
    (Run, ImageSet), and run the app."""
    from latentexplorer.logs import setup_logging

    setup_logging()
    app = create_app()
    window = start_window(run, opened)  # noqa: F841 (kept alive while the app runs)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
