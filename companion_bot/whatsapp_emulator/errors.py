"""Meta's error answers, in the Graph API's shape:

    {"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException",
               "code": 131047, "error_data": {"messaging_product": "whatsapp",
               "details": "…"}, "fbtrace_id": "…"}}

with the HTTP status Meta's error-code reference gives each code.
"""

from __future__ import annotations

import secrets
from typing import Any


class MetaError(Exception):
    """An error the emulator answers, as Meta would."""

    def __init__(
        self,
        code: int,
        title: str,
        details: str | None = None,
        status: int = 400,
        *,
        subcode: int | None = None,
        numbered: bool = True,
    ) -> None:
        super().__init__(f"({code}) {title}: {details}")
        self.code = code
        self.title = title
        self.details = details
        self.status = status
        self.subcode = subcode
        self.message = f"(#{code}) {title}" if numbered else title

    def payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": "OAuthException",
            "code": self.code,
        }
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = secrets.token_urlsafe(16)
        return {"error": error}


def invalid_parameter(details: str) -> MetaError:
    return MetaError(100, "Invalid parameter", details)


def missing_parameter(details: str) -> MetaError:
    return MetaError(131008, "Required parameter is missing", details)


def invalid_value(details: str) -> MetaError:
    return MetaError(131009, "Parameter value is not valid", details)


def bad_token() -> MetaError:
    return MetaError(
        190, "Invalid OAuth access token - Cannot parse access token", status=401, numbered=False
    )


def unknown_object(object_id: str, verb: str = "post") -> MetaError:
    return MetaError(
        100,
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation",
        subcode=33,
        numbered=False,
    )


def media_upload(details: str) -> MetaError:
    return MetaError(131053, "Media upload error", details)


def outside_window() -> MetaError:
    return MetaError(
        131047,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    )


def undeliverable() -> MetaError:
    return MetaError(131026, "Message undeliverable", "Unable to deliver message.")


def rate_limit() -> MetaError:
    return MetaError(
        130429,
        "Rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number in a short period of time",
    )


def pair_rate_limit() -> MetaError:
    return MetaError(
        131056,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time",
    )


def template_missing(name: str, language: str) -> MetaError:
    return MetaError(
        132001,
        "Template name does not exist in the translation",
        f"template name ({name}) does not exist in {language}",
        status=404,
    )


def template_params(expected: int, given: int) -> MetaError:
    return MetaError(
        132000,
        "Number of parameters does not match the expected number of params",
        f"body: number of localizable_params ({given}) does not match the expected number "
        f"of params ({expected})",
    )


def server_error() -> MetaError:
    return MetaError(131000, "Something went wrong", "Something went wrong", status=500)


def service_unavailable() -> MetaError:
    return MetaError(131016, "Service unavailable", "A service is temporarily unavailable.", 503)


# Errors a test can inject by code (`CloudApiEmulator.fail_next`).
INJECTABLE = {
    130429: rate_limit,
    131056: pair_rate_limit,
    131026: undeliverable,
    131047: outside_window,
    131000: server_error,
    131016: service_unavailable,
    190: bad_token,
}
