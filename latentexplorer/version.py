"""The version, in a module of its own: the GUI reads it without importing the package's
lazy entry points (`latentexplorer.show` opens windows)."""

__version__ = "0.1.0"
