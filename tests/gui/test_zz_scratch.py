import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from latentexplorer.gui.session import PointPreview, LocationPreview

def test_scratch(window, qtbot):
    s = window.session; sc = window.scatter
    print(sc.view_box.viewRange(), sc.plot.viewport().size())
    px, py = sc.view_box.viewPixelSize()
    scr = s.xy / np.array([px, py])
    d = np.sqrt(((scr[:, None] - scr[None]) ** 2).sum(-1)); np.fill_diagonal(d, np.inf)
    iso = np.where(d.min(1) > 8)[0]
    print(len(iso), iso[:10])
    i = int(iso[0])
    p = sc.widget_pos_of(*s.xy[i]); print(p, s.xy[i])
    q = QPoint(round(p.x()), round(p.y()))
    scene = sc.plot.mapToScene(q); v = sc.view_box.mapSceneToView(scene); print("back", v)
    with qtbot.waitSignal(s.selectionChanged):
        qtbot.mouseClick(sc.plot.viewport(), Qt.MouseButton.LeftButton, pos=q)
    print(s.selected, i)
    print(window.preview.shown.keys())
    # empty click
    x0, y0 = s.xy.min(0); x1, y1 = s.xy.max(0)
    sc.view_box.setRange(xRange=(x0 - 1, x1 + 3), yRange=(y0 - 1, y1 + 1), padding=0)
    qtbot.wait(10)
    p = sc.widget_pos_of(x1 + 2, (y0 + y1) / 2); q = QPoint(round(p.x()), round(p.y()))
    exp = sc.view_box.mapSceneToView(sc.plot.mapToScene(q))
    with qtbot.waitSignal(s.previewChanged) as b:
        qtbot.mouseClick(sc.plot.viewport(), Qt.MouseButton.LeftButton, pos=q)
    pr = b.args[0]
    print(type(pr), pr.z, exp, x1 + 2, (y0 + y1) / 2)
    print(window.windowTitle(), window.settings.fileName())
