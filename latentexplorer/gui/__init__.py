"""The Qt layer: a thin set of views over the core."""
