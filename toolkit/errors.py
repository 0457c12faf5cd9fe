"""The base of every error the toolkit reports to a user as one line (not a traceback)."""


class ToolkitError(Exception):
    """An expected failure with a message fit for an operator: what is wrong and where."""
