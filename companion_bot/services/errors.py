"""Errors a person can fix, carrying a message for the translation layer."""

from __future__ import annotations

from typing import Any


class UserInputError(Exception):
    """Bad input; `message` is an English gettext msgid (marked with N_) and `params` fill it.

    Handlers show `_(error.message).format(**error.params)` in the person's language.
    """

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def translate(self, gettext: Any) -> str:
        return gettext(self.message).format(**self.params)
