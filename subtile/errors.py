"""Errors that reach users as one line (the CLI prints them without a traceback)."""


class ConfigError(ValueError):
    """An invalid parameter: the message names the parameter and the allowed values or range."""
