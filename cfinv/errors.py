"""What ``cfinv`` exits with, and the one error every failure becomes."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """The exit codes, as README "cfinv" documents them."""

    OK = 0  # covered and completed / request accepted / nothing to do
    FAILED = 1  # a covering invalidation failed, or a record reached the DLQ
    USAGE = 2  # bad arguments or input (click uses 2 for usage errors too)
    TIMED_OUT = 3  # --timeout passed before everything was covered
    AWS = 4  # credentials, unknown stack, AccessDenied, throttling that outlasted retries...
    ABORTED = 5  # a confirmation was declined


class CliError(Exception):
    """One line for the user, and the exit code it ends with."""

    def __init__(self, message: str, code: Exit = Exit.AWS) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
