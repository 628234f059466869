"""Errors a user can cause and fix; the CLI prints them in one line, the GUI in a message box."""


class UserError(Exception):
    """A problem with the user's input (a path, an option, a file), not a bug."""


class CheckpointError(UserError):
    """A run folder or weights file that cannot be opened safely."""


class DataError(UserError):
    """A dataset that is missing, malformed or incompatible with a model."""


class ConfigError(UserError):
    """An invalid model or training configuration."""
