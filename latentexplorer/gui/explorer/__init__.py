"""The Explorer tab: the latent scatter, the preview pane, the sliders and the tools that decode."""
