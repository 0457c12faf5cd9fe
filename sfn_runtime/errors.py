"""Errors raised while a state machine runs (``States.*`` and task errors) or is validated."""

from __future__ import annotations


class StatesError(Exception):
    """A runtime error as Step Functions names it: ``error`` (e.g. ``States.Timeout``) and ``cause``.

    Retry and Catch match on ``error``; ``cause`` is the human-readable detail shown in history.
    """

    def __init__(self, error: str, cause: str = "", *, located: bool = False):
        self.error = error
        self.cause = cause
        self.located = located  # True once the cause names its state, or when it must pass through as given
        self.location = ""  # the field that failed, relative to its state (EvaluationFailed's "location")
        super().__init__(f"{error}: {cause}" if cause else error)

    def at_state(self, name: str, entered_event_id: int) -> "StatesError":
        """Begin the cause with the state that failed, as AWS does for the runtime's own errors.

        AWS prefixes the causes of the errors the interpreter itself raises (``States.Runtime``,
        ``States.QueryEvaluationError``, ``States.IntrinsicFailure``) with
        ``An error occurred while executing the state '<name>' (entered at the event id #<n>). ``;
        a Fail state's cause and a task's own error pass through unchanged (``located=True``).
        The innermost state names itself once; enclosing Map/Parallel states leave it alone.
        """
        if not self.located and self.error in PREFIXED_ERRORS:
            self.cause = f"An error occurred while executing the state '{name}' (entered at the event id #{entered_event_id}). {self.cause}"
            self.args = (f"{self.error}: {self.cause}",)
        self.located = True
        return self


PREFIXED_ERRORS = frozenset({"States.Runtime", "States.QueryEvaluationError", "States.IntrinsicFailure"})


class DefinitionError(Exception):
    """A state machine definition breaks a rule; ``path`` says where (e.g. ``/States/Foo/Next``).

    The API reports it as ``InvalidDefinition`` with a message naming the path.
    """

    def __init__(self, message: str, path: str = ""):
        self.path = path
        self.message = message
        super().__init__(f"{message} at {path}" if path else message)
