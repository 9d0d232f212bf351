"""The 24-hour customer-service window, as pure logic.

Meta lets a business send free-form messages (text, buttons, lists, locations, images) to
someone only within 24 hours of her last message to it; outside that window only an approved
template goes through (and Meta refuses anything else with error 131047). Her last message
time is what opens the window: any message, a tap on a button included.

A free-form message is only chosen when the window still has `MARGIN` to run, so that one
queued now is not refused for crossing the line while it waits in the outbox; the outbox
decides again when it sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

WINDOW = timedelta(hours=24)
MARGIN = timedelta(minutes=5)


def closes_at(last_inbound: datetime | None) -> datetime | None:
    """When her window closes; None if she never wrote (it was never open)."""
    return None if last_inbound is None else last_inbound + WINDOW


def free_form_allowed(
    last_inbound: datetime | None, now: datetime, *, margin: timedelta = MARGIN
) -> bool:
    """May a free-form message go to her now? Only inside her window, with `margin` to spare."""
    end = closes_at(last_inbound)
    return end is not None and now < end - margin


class Route(StrEnum):
    FREE_FORM = "free_form"  # the notice as it is
    TEMPLATE = "template"  # its template
    NONE = "none"  # neither: report it, never drop it silently


@dataclass(frozen=True)
class Delivery:
    route: Route
    notice: Mapping[str, Any] | None  # what to render and send (None with Route.NONE)
    reason: str | None = None  # why nothing can be sent, for the organizers and the report


def choose(
    notice: Mapping[str, Any],
    *,
    last_inbound: datetime | None,
    now: datetime,
    fallback: Mapping[str, Any] | None = None,
) -> Delivery:
    """Free form inside her window; outside it, the notice's template (`fallback`, a template
    notice) if it has one, else nothing (and why). A template notice always goes."""
    if notice.get("kind") == "template":
        return Delivery(Route.TEMPLATE, notice)
    if free_form_allowed(last_inbound, now):
        return Delivery(Route.FREE_FORM, notice)
    if fallback is not None:
        if fallback.get("kind") != "template":
            raise ValueError("a notice's fallback outside the window must be a template")
        return Delivery(Route.TEMPLATE, fallback)
    reason = "never wrote to the bot" if last_inbound is None else "24-hour window closed"
    return Delivery(Route.NONE, None, reason)
