"""Small widgets and helpers every room may use: images, dialogs, the point-cloud renderer."""
