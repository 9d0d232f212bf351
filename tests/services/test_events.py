from datetime import UTC, datetime, timedelta

import pytest

from companion_bot import telegram_links
from companion_bot.services import events
from companion_bot.services.errors import UserInputError
from companion_bot.services.events import InviteKind

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def build(**overrides):
    venue = events.locate_venue("Ixelles")
    assert isinstance(venue, events.VenueLocation)
    values = dict(
        name="Nuit", venue_name="Le Lieu", venue=venue, timezone="Europe/Brussels",
        doors_open="2026-12-05 23:00", closing="06:00", meeting_points=["Door", "Bar"],
        arrival_slots=["23:00-00:00", "00:00-01:00"], departures=["03:00", "06:00@Bar"],
        group_sizes="2 3-4 5", charter="Be kind to each other, always.", now=NOW,
    )  # fmt: skip
    values.update(overrides)
    return events.build_spec(**values)


def test_spec_from_typed_values():
    spec = build()
    assert spec.doors_open == datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
    assert spec.closing == spec.doors_open + timedelta(hours=7)
    assert [start.hour for start, _, _ in spec.arrival_slots] == [22, 23]
    assert spec.departure_waves == [
        (datetime(2026, 12, 6, 2, 0, tzinfo=UTC), 0),
        (datetime(2026, 12, 6, 5, 0, tzinfo=UTC), 1),
    ]
    assert (spec.min_group_size, spec.preferred_min_size, spec.max_group_size) == (2, 3, 5)


def test_defaults_when_slots_and_departures_are_not_given():
    spec = build(arrival_slots=None, departures=None)
    assert len(spec.arrival_slots) == 3
    assert spec.departure_waves == [(spec.closing, 0)]


@pytest.mark.parametrize(
    "overrides",
    [
        {"timezone": "Mars/Olympus"},
        {"closing": "25:00"},
        {"departures": ["03:00@Roof"]},
        {"departures": ["03:00", "03:00"]},
        {"departures": ["20:00"]},
        {"group_sizes": "5 4 3"},
        {"group_sizes": "2 3-4 50"},
        {"meeting_points": ["Door", "door"]},
        {"arrival_slots": ["12:00-13:00"]},
        {"name": "   "},
    ],
)
def test_bad_values_are_explained(overrides):
    with pytest.raises(UserInputError):
        build(**overrides)


def test_venue_from_coordinates_or_place():
    assert events.locate_venue("48.8566, 2.3522") == events.VenueLocation(
        48.8566, 2.3522, "48.85660, 2.35220"
    )
    found = events.locate_venue("Mons")
    assert isinstance(found, events.VenueLocation) and found.timezone == "Europe/Brussels"
    assert events.locate_venue("qqqqqqq") == ()


async def test_codes_resolve_to_their_role(db):
    event = await events.create_event(build(), creator_telegram_id=77)
    assert (await events.resolve_invite(event.attendee_code)).kind == InviteKind.ATTENDEE
    assert (await events.resolve_invite(event.volunteer_code)).kind == InviteKind.VOLUNTEER
    assert (await events.resolve_invite(event.organizer_code)).kind == InviteKind.ORGANIZER
    assert await events.resolve_invite("unknown") is None
    assert await events.resolve_invite("bad code!") is None
    assert len({event.attendee_code, event.volunteer_code, event.organizer_code}) == 3
    links = telegram_links.event_links(event, "my_bot")
    assert links[InviteKind.ATTENDEE] == f"https://t.me/my_bot?start={event.attendee_code}"
    overview = await events.organizer_overview(77)
    assert [item.event.id for item in overview] == [event.id]
