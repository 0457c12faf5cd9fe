"""Errors raised while a state machine runs (``States.*`` and task errors) or is validated."""

from __future__ import annotations


class StatesError(Exception):
    """A runtime error as Step Functions names it: ``error`` (e.g. ``States.Timeout``) and ``cause``.

    Retry and Catch match on ``error``; ``cause`` is the human-readable detail shown in history.
    """

    def __init__(self, error: str, cause: str = ""):
        self.error = error
        self.cause = cause
        super().__init__(f"{error}: {cause}" if cause else error)


class DefinitionError(Exception):
    """A state machine definition breaks a rule; ``path`` says where (e.g. ``/States/Foo/Next``).

    The API reports it as ``InvalidDefinition`` with a message naming the path.
    """

    def __init__(self, message: str, path: str = ""):
        self.path = path
        self.message = message
        super().__init__(f"{message} at {path}" if path else message)
