"""Guard against Qt binding releases that corrupt the interpreter.

PySide6 6.12.0 on CPython < 3.12 drops a reference to None on every call of a
void Qt method; after a few thousand calls the process aborts in none_dealloc.
The check runs in a subprocess because a bad release kills the process.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
image = QImage(8, 8, QImage.Format.Format_RGB32)
painter = QPainter(image)
widget = QWidget()
pen = QPen(QColor(1, 2, 3))
before = sys.getrefcount(None)
for _ in range(10_000):
    painter.setPen(pen)      # void methods: each returns None to Python
    widget.update()
after = sys.getrefcount(None)
painter.end()
print(after - before)
"""


def test_void_qt_calls_do_not_leak_references_to_none():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"the Qt binding crashed the interpreter: {result.stderr[-500:]}"
    drift = int(result.stdout.strip().splitlines()[-1])
    assert abs(drift) < 100, f"sys.getrefcount(None) moved by {drift} over 20,000 void Qt calls"
