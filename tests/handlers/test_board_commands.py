"""Organizers' material in the chat: the live board's secret link in /dashboard, /qr (two
photos whose QR codes read back as the attendee and volunteer links) and /export (a CSV file
with counts only). Volunteers and attendees are refused; a forged event choice too."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from companion_bot.models import Event
from companion_bot.services import board
from companion_bot.services.events import InviteKind, create_event
from companion_bot.signing import sign
from companion_bot.telegram_links import event_links
from tests.qr_decoding import decode_qr
from tests.support import BotHarness, event_spec, sign_up

ORGANIZERS_ONLY = "Only this event's organizers can do this."


def photo_bytes(harness: BotHarness, message) -> bytes:
    largest = message.data["photo"][-1]
    return harness.emulator.files[largest["file_id"]].content


def document_bytes(harness: BotHarness, message) -> bytes:
    return harness.emulator.files[message.data["document"]["file_id"]].content


async def organizer_of(harness: BotHarness, event: Event, **user):
    orga = harness.user(first_name="Orga", **({"language_code": "en"} | user))
    await harness.say(orga, f"/start {event.organizer_code}")
    return orga


async def test_dashboard_gives_the_board_link(harness: BotHarness, event: Event) -> None:
    orga = await organizer_of(harness, event)
    reply = await harness.say(orga, "/dashboard")
    await event.refresh_from_db()
    assert event.board_token
    url = f"http://127.0.0.1:{harness.settings.WEB_PORT}/board/{event.board_token}"
    assert url in reply.text
    assert any(e.get("url") == url for e in reply.entities)
    again = await harness.say(orga, "/dashboard")
    assert url in again.text  # the same link every time


async def test_the_board_link_uses_public_url(harness: BotHarness, event: Event) -> None:
    harness.application.bot_data["settings"] = harness.settings.model_copy(
        update={"PUBLIC_URL": "https://board.example.org"}
    )
    orga = await organizer_of(harness, event)
    reply = await harness.say(orga, "/dashboard")
    await event.refresh_from_db()
    assert f"https://board.example.org/board/{event.board_token}" in reply.text


async def test_qr_sends_two_codes_that_read_as_the_links(harness: BotHarness, event) -> None:
    orga = await organizer_of(harness, event)
    before = len(orga.messages())
    await harness.say(orga, "/qr")
    photos = orga.messages()[before:]
    assert len(photos) == 2 and all("photo" in photo.data for photo in photos)
    links = event_links(event, harness.application.bot.username)
    assert decode_qr(photo_bytes(harness, photos[0])) == links[InviteKind.ATTENDEE]
    assert decode_qr(photo_bytes(harness, photos[1])) == links[InviteKind.VOLUNTEER]
    assert photos[0].caption.startswith("📱 Attendees' QR code for Nuit Compagnonnes")
    assert links[InviteKind.ATTENDEE] in photos[0].caption
    assert photos[1].caption.startswith("🦺 Volunteers' QR code")
    # The organizer link makes co-organizers: it never becomes a QR code.
    for photo in photos:
        assert event.organizer_code not in photo.caption
        assert event.organizer_code not in decode_qr(photo_bytes(harness, photo))


async def test_qr_asks_which_event_in_french(harness: BotHarness, event) -> None:
    other = await create_event(
        event_spec(datetime.now(UTC) + timedelta(days=2), name="Nuit Deux"), None
    )
    orga = await organizer_of(harness, event, language_code="fr")
    await harness.say(orga, f"/start {other.organizer_code}")
    reply = await harness.say(orga, "/qr")
    assert reply.text == "Quel événement ?"
    assert [b.text for b in reply.inline_buttons()] == ["Nuit Compagnonnes", "Nuit Deux"]
    before = len(orga.messages())
    await harness.tap(orga, "Nuit Deux")
    photos = orga.messages()[before:]
    assert len(photos) == 2
    assert photos[0].caption.startswith("📱 QR code des participantes pour Nuit Deux")
    links = event_links(other, harness.application.bot.username)
    assert decode_qr(photo_bytes(harness, photos[0])) == links[InviteKind.ATTENDEE]


@pytest.mark.parametrize("command", ["/qr", "/export"])
async def test_volunteers_and_attendees_are_refused(harness: BotHarness, event, command) -> None:
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    assert (await harness.say(volunteer, command)).text == ORGANIZERS_ONLY
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)
    assert (await harness.say(ada, command)).text == ORGANIZERS_ONLY
    camille = harness.user(first_name="Camille", language_code="fr")
    reply = await harness.say(camille, command)
    assert reply.text == "Seule l'équipe d'organisation de cet événement peut faire ça."
    assert not any("photo" in m.data or "document" in m.data
                   for person in (volunteer, ada, camille) for m in person.messages())  # fmt: skip


async def test_a_forged_event_choice_is_refused(harness: BotHarness, event) -> None:
    """A volunteer signs a choice for herself: the signature is right, the role is not."""
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    before = len(volunteer.messages())
    await volunteer.tap_data(volunteer.last_message().message_id,
                             sign(volunteer.id, f"bo:qr:{event.id}"))  # fmt: skip
    await volunteer.tap_data(volunteer.last_message().message_id, f"bo:csv:{event.id}~forged0000")
    await harness.settle()
    assert [m.text for m in volunteer.messages()[before:]] == [ORGANIZERS_ONLY]
    assert volunteer.callback_answers()[-1].text == "This button is no longer active."


async def test_export_sends_anonymous_counts(harness: BotHarness, event) -> None:
    orga = await organizer_of(harness, event)
    people = [harness.user(first_name=name, language_code="en") for name in ("Ada", "Bea")]
    for person in people:
        await sign_up(harness, person, event.attendee_code)
    reply = await harness.say(orga, "/export")
    assert reply.data["document"]["file_name"] == f"statistics-{event.id}-" \
        f"{event.doors_open.date().isoformat()}.csv"  # fmt: skip
    assert reply.caption.startswith("📊 Anonymous statistics of Nuit Compagnonnes")
    text = document_bytes(harness, reply).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "detail", "measure", "value"]
    assert ["Totals", "", "signed up", "2"] in rows
    assert ["Departure", "03:00 Main entrance", "signed up", "2"] in rows
    for person in [*people, orga]:
        assert str(person.id) not in text
        assert person.account.first_name not in text


async def test_an_organizer_replaces_the_board_link_and_the_old_one_stops_opening(
    harness: BotHarness, event: Event
) -> None:
    orga = await organizer_of(harness, event)
    await harness.say(orga, "/dashboard")
    await event.refresh_from_db()
    old = event.board_token
    reply = await harness.tap(orga, "🔄 New board link (the old one stops working)")
    await event.refresh_from_db()
    assert event.board_token and event.board_token != old
    assert reply.text.startswith("The old board link no longer opens.")
    assert f"/board/{event.board_token}" in reply.text and old not in reply.text
    # What the board's web route looks up (tests/web/test_board.py serves it over HTTP).
    assert await board.event_by_token(old) is None
    assert (await board.event_by_token(event.board_token)).id == event.id

    # A volunteer's own signature on the same button: right signature, wrong role.
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    await volunteer.tap_data(volunteer.last_message().message_id,
                             sign(volunteer.id, f"bo:newlink:{event.id}"))  # fmt: skip
    await harness.settle()
    assert volunteer.last_text() == ORGANIZERS_ONLY
    token = event.board_token
    await event.refresh_from_db()
    assert event.board_token == token
