"""The base of every error the toolkit reports to a user as one line (not a traceback)."""


class ToolkitError(Exception):
    """An expected failure with a message fit for an operator: what is wrong and where.

    The message speaks the Python API (``force=True``); ``cli`` is the same message in the words
    of the ``dsa`` command (``--force``), which the CLI prints instead when given.
    """

    def __init__(self, *args: object, cli: str | None = None):
        super().__init__(*args)
        self.cli = cli
