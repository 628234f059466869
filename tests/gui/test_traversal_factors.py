"""The traversal grid names the sprite factor each row's dimension carries."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt

from latentexplorer.analysis.factors import dimension_factors


def test_traversal_rows_name_the_sprite_factor_of_each_dimension(sprites_window, qtbot):
    session, sliders = sprites_window.session, sprites_window.sliders
    qtbot.mouseClick(sliders.traverse, Qt.MouseButton.LeftButton)
    dialog = sliders.traversal_dialog
    qtbot.waitExposed(dialog)
    texts = [label.text() for label in dialog.row_labels]
    stats = session.opened.dimension_stats()
    active = [int(d) for d in stats.order if stats.active[d]]
    assert len(texts) == len(active) >= 3
    named = dimension_factors(session.opened.mu, session.opened.images.factors)
    pattern = re.compile(r"^z(\d+) · KL (\d+\.\d\d) · (.+)$")
    factors_shown = []
    for text, d in zip(texts, active):
        dim, kl, factor = pattern.match(text).groups()
        assert int(dim) == d and kl == f"{stats.kl[d]:.2f}"
        assert factor == named[d].describe()
        factors_shown.append(factor.rsplit(" (", 1)[0])
    # the bundled β-VAE puts x and y position in dimensions of their own
    assert {"x position", "y position"} <= set(factors_shown)
    assert set(factors_shown) <= {"shape", "scale", "orientation", "x position", "y position",
                                  "no single factor"}
    dialog.close()
