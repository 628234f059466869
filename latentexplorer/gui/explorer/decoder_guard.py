"""Switch off what needs a decoder while a model without one (CLIP) is open, saying why.

Sliders, prior samples, the manifold, traversals, drawing and attribute vectors all decode;
for an embedding model they are disabled with a tooltip instead of decoding garbage."""

from __future__ import annotations

from PySide6.QtCore import QObject

REASON = "This model has no decoder (it embeds images and captions), so there is nothing to decode."
SEQUENCE_REASON = "This model reads pen trajectories, not images: the pad draws images."


class DecoderGuard(QObject):
    """Listens to runChanged after the window's own handlers, so its choice is the last word."""

    def __init__(self, window) -> None:
        super().__init__(window)
        c = window.controls
        self.window = window
        # widgets that nothing else enables or disables per run
        self.plain = [c.prior, c.draw, c.directions, window.sliders]
        # widgets whose state the window sets per run (enabled only where they apply)
        self.managed = [c.manifold, c.sampled, window.prior_action, window.manifold_action,
                        window.traversal_action, window.draw_action, window.directions_action]
        self.tooltips = {id(w): w.toolTip() for w in self.plain + self.managed}
        window.session.opened.runChanged.connect(self.update)
        self.update()

    def update(self) -> None:
        session = self.window.session
        decoder = not session.opened.has_run or session.opened.has_decoder
        for widget in self.plain + self.managed:
            widget.setToolTip(self.tooltips[id(widget)] if decoder else REASON)
            if not decoder:
                widget.setEnabled(False)
        if decoder:
            for widget in self.plain:
                widget.setEnabled(True)
        # the drawing pad makes images; a sequence model reads trajectories
        sequence = session.opened.has_run and session.opened.run.config.model.is_sequence
        for widget in (self.window.controls.draw, self.window.draw_action):
            if sequence:
                widget.setEnabled(False)
                widget.setToolTip(SEQUENCE_REASON)
