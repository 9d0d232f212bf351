"""The zones service: which answer wins between an event's zones and the gazetteer, checking
what organizers give (bot and command line), removal racing a sign-up, and views after a zone
or the event's personal data is gone. Run on SQLite, and on PostgreSQL with
TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from companion_bot.gazetteer import Gazetteer
from companion_bot.models import (
    Event,
    Person,
    Registration,
    RegistrationStatus,
    Role,
    RoleKind,
    Zone,
)
from companion_bot.services import lifecycle, registrations, zones
from companion_bot.services.errors import UserInputError
from companion_bot.services.roles import NotOrganizer
from companion_bot.services.texts import Versions

ORGANIZER = 555


async def organizer(event: Event) -> int:
    person = await Person.create(telegram_id=ORGANIZER, language="en")
    await Role.create(event=event, person=person, kind=RoleKind.ORGANIZER)
    return ORGANIZER


async def attendee(event: Event, number: int, **answers) -> Registration:
    person = await Person.create(telegram_id=800_000 + number, language="en", display_name="A")
    return await Registration.create(event=event, person=person, **answers)


async def test_zones_come_first_unless_a_neighbourhood_is_spelt_exactly(event) -> None:
    pantin = await Zone.create(event=event, name="Pantin", lat=48.9, lon=2.41)
    recyclerie = await Zone.create(event=event, name="La Recyclerie", lat=48.8973, lon=2.3441)
    found = await zones.find("pantin", event)  # a zone and a commune of the same name
    assert found.match.id == f"zone:{pantin.id}" and found.match.name == "Pantin"
    found = await zones.find("Recylerie", event)  # a typo of a zone
    assert found.match.id == f"zone:{recyclerie.id}"
    await Zone.create(event=event, name="Montreuill", lat=48.86, lon=2.44)
    found = await zones.find("Montreuil", event)  # the commune, spelt right
    assert found.match.id == "fr-montreuil"
    found = await zones.find("Oberkampf", event)  # no zone near it: the gazetteer as before
    assert found.match.id == Gazetteer.default().lookup("Oberkampf").match.id
    assert (await zones.find("qwxzzk", event)).is_empty


async def test_suggestions_put_zones_first_and_stop_at_three(event) -> None:
    for i, name in enumerate(("Navette Nord", "Navette Est", "Navette Sud", "Navette Ouest")):
        await Zone.create(event=event, name=name, lat=48.88 + i / 100, lon=2.35)
    found = await zones.find("Navette", event)
    assert found.match is None
    assert len(found.suggestions) == 3
    assert all(place.kind == zones.KIND for place in found.suggestions)


async def test_a_pin_snaps_to_a_zone_within_a_few_km_only(event) -> None:
    zone = await Zone.create(event=event, name="Basilique", lat=48.9356, lon=2.3597)
    near = await registrations.snap_location(48.95, 2.36, event, "fr")  # 1.6 km away
    assert near.id == f"zone:{zone.id}"
    far = await registrations.snap_location(48.8535, 2.3700, event, "fr")  # Bastille, 9 km away
    assert far is not None and not zones.is_zone(far.id)


def test_command_line_zones_are_checked() -> None:
    near = (48.8649, 2.38)
    parsed = zones.parse_arguments(["Gare du Nord@48.8809, 2.3553", "Canal@Stalingrad"], near, "fr")
    stalingrad = Gazetteer.default().get("fr-paris-stalingrad")
    assert [(name.first, lat, lon) for name, lat, lon in parsed] == [
        ("Gare du Nord", 48.8809, 2.3553),
        ("Canal", stalingrad.lat, stalingrad.lon),
    ]
    bad = {
        "Gare": zones.BAD_ARGUMENT,
        "Gare@": zones.BAD_ARGUMENT,
        "@48.1,2.1": zones.EMPTY_NAME,
        "Nowhere@91.0,2.0": zones.OFF_THE_EARTH,
        "Nowhere@48.0,181.5": zones.OFF_THE_EARTH,
        "Nowhere@qwxzzk": zones.UNKNOWN_PLACE,
        "x" * 65 + "@48.1,2.1": "That is too long: {limit} characters at most.",
        "?!@48.1,2.1": zones.NO_LETTERS,
    }
    for argument, message in bad.items():
        with pytest.raises(UserInputError) as raised:
            zones.parse_arguments([argument], near, "fr")
        assert raised.value.message == message, argument
    with pytest.raises(UserInputError) as raised:
        zones.parse_arguments(["Gare du Nord@48.88,2.35", "gare-du-nord@48.1,2.1"], near, "fr")
    assert raised.value.message == zones.DUPLICATE
    with pytest.raises(UserInputError):
        zones.check_list([(Versions.of("Ok"), 48.0, 2.0), (Versions.of("Off"), 100.0, 2.0)])


async def test_organizer_actions_check_the_role_every_time(event) -> None:
    orga = await organizer(event)
    zone = await zones.add(orga, event.id, "  Gare   du Nord ", 48.8809, 2.3553)
    assert zone.name == "Gare du Nord"
    with pytest.raises(UserInputError) as raised:
        await zones.add(orga, event.id, "GARE DU NORD", 48.0, 2.0)
    assert raised.value.params == {"name": "Gare du Nord"}
    for action in (
        zones.add(777, event.id, "Autre", 48.0, 2.0),
        zones.check_new_name(777, event.id, "Autre", "fr"),
        zones.event_zones(777, event.id),
        zones.remove(777, zone.id),
    ):
        with pytest.raises(NotOrganizer):
            await action
    assert await Zone.filter(event=event).count() == 1


async def test_removal_and_choosing_the_zone_at_once_never_leave_a_dangling_destination(
    event,
) -> None:
    """Whichever comes first, exactly one wins. (This runs them together; it does not force
    the worst interleaving, which only the row lock in both paths rules out on PostgreSQL.)"""
    orga = await organizer(event)
    for round_ in range(4):
        zone = await Zone.create(event=event, name=f"Z{round_}", lat=48.9, lon=2.35)
        registration = await attendee(event, round_, status=RegistrationStatus.DRAFT)

        async def choose(registration=registration, zone=zone) -> bool:
            try:
                await registrations.set_destination(registration, f"zone:{zone.id}")
            except UserInputError:
                return False
            return True

        async def remove(zone=zone) -> bool:
            try:
                await zones.remove(orga, zone.id)
            except zones.ZoneInUse:
                return False
            return True

        chosen, removed = await asyncio.gather(choose(), remove())
        assert chosen != removed
        await registration.refresh_from_db()
        exists = await Zone.exists(id=zone.id)
        assert exists == chosen
        assert (registration.destination_place_id == f"zone:{zone.id}") == chosen


async def test_views_survive_a_removed_zone_and_a_purge(event) -> None:
    orga = await organizer(event)
    zone = await Zone.create(event=event, name="Basilique", lat=48.9356, lon=2.3597)
    registration = await attendee(
        event, 1, status=RegistrationStatus.CONFIRMED, wants_departure_group=True,
        destination_place_id=f"zone:{zone.id}",
    )  # fmt: skip
    assert (await registrations.view(registration, "fr")).destination.name == "Basilique"
    await Zone.filter(id=zone.id).delete()  # as if removed behind the service's back
    assert (await registrations.view(registration, "fr")).destination is None

    kept = await Zone.create(event=event, name="Gare", lat=48.88, lon=2.35)
    await attendee(event, 2, status=RegistrationStatus.CONFIRMED,
                   destination_place_id=f"zone:{kept.id}")  # fmt: skip
    await lifecycle.purge_event(event.id, event.closing + timedelta(days=8))
    listing = await zones.event_zones(orga, event.id)
    assert [(use.zone.name, use.heading) for use in listing.zones] == [("Gare", 0)]
    await zones.remove(orga, kept.id)
    assert not await Zone.filter(event=event).exists()
