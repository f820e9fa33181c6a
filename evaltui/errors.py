"""Errors meant for people: a title, a message, and where the problem is."""

from __future__ import annotations


class EvaltuiError(Exception):
    """Base error. The CLI prints it and exits non-zero; the TUI shows a dialog."""

    title = "evaltui error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(EvaltuiError):
    """A file that cannot be imported. Names the file, the record and the field.

    Args:
        path: the file.
        message: what is wrong, in plain words.
        location: where in the file: "line 12", "member samples/3_epoch_1.json".
        field: the dotted field path inside the record, if one is to blame.
    """

    title = "Cannot import file"
    exit_code = 2

    def __init__(
        self,
        path: str,
        message: str,
        *,
        location: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.location = location
        self.field = field
        self.detail = message
        where = self.path + (f", {location}" if location else "")
        what = f"field '{field}': {message}" if field else message
        super().__init__(f"{where}: {what}")


class StoreError(EvaltuiError):
    """The store cannot be opened or used."""

    title = "Store error"
    exit_code = 3


class StoreTooNewError(StoreError):
    """The store was written by a newer evaltui than this one."""

    title = "Store written by a newer evaltui"


class StoreTamperedError(StoreError):
    """The store was changed outside evaltui (its append-only triggers were dropped)."""

    title = "Store changed outside evaltui"


class NotFoundError(EvaltuiError):
    """A run, case or other named thing does not exist."""

    title = "Not found"
    exit_code = 4
