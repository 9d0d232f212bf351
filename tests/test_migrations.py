"""Schema migrations: a database made by an older version upgrades without losing data, and
the models never drift from the migrations (generate_schemas would hide that)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise import Tortoise
from tortoise.connection import get_connection
from tortoise.migrations.autodetector import MigrationAutodetector

from companion_bot.db import APP_LABEL, apply_migrations, open_database, tortoise_config
from companion_bot.models import (
    Channel,
    Event,
    InboxUpdate,
    Person,
    Registration,
    Role,
    UserData,
)

FIRST = f"{APP_LABEL}.0001_initial"


async def test_upgrade_from_the_first_version_keeps_data(empty_database_url: str) -> None:
    await apply_migrations(empty_database_url, target=FIRST)
    await open_database(empty_database_url)
    connection = get_connection("default")
    doors = datetime(2030, 1, 1, 22, 0, tzinfo=UTC)
    # Rows written the way version 0001 wrote them: plain SQL on its tables.
    await connection.execute_script(
        "INSERT INTO person (telegram_id, language, display_name, created_at, updated_at)"
        " VALUES (1234, 'fr', 'Marie', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);"
        "INSERT INTO event (name, venue_name, venue_lat, venue_lon, timezone, doors_open, closing,"
        " min_group_size, preferred_min_size, preferred_max_size, max_group_size, charter,"
        " attendee_code, volunteer_code, organizer_code, created_at) VALUES ("
        f"'Nuit', 'Station', 48.86, 2.38, 'Europe/Paris', '{doors.isoformat()}',"
        f" '{(doors + timedelta(hours=7)).isoformat()}', 2, 3, 4, 5, 'Be kind',"
        " 'att', 'vol', 'org', CURRENT_TIMESTAMP);"
        "INSERT INTO registration (event_id, person_id, status, destination_place_id,"
        " wants_departure_group, transport, created_at, updated_at) VALUES"
        " (1, 1, 'confirmed', 'fr-paris-11', TRUE, 'walk', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);"
        "INSERT INTO role (event_id, person_id, kind, created_at)"
        " VALUES (1, 1, 'volunteer', CURRENT_TIMESTAMP);"
    )
    await Tortoise.close_connections()

    await apply_migrations(empty_database_url)

    await open_database(empty_database_url)
    person = await Person.get(telegram_id=1234)
    assert (person.language, person.display_name) == ("fr", "Marie")
    event = await Event.get(attendee_code="att")
    assert event.doors_open == doors
    assert (event.reminder_minutes, event.retention_days) == (15, 7)  # defaults of 0003
    registration = await Registration.get(person=person, event=event)
    assert (registration.status, registration.destination_place_id) == ("confirmed", "fr-paris-11")
    assert await Role.filter(person=person, kind="volunteer").exists()
    # Everyone before WhatsApp is on Telegram; a WhatsApp person has no Telegram id.
    assert person.channel == Channel.TELEGRAM
    await Person.create(channel=Channel.WHATSAPP, whatsapp_id="33612345678")
    assert await Registration.filter(person=person).count() == 1  # the rebuild kept hers
    # What the newer version added works on the upgraded database.
    await InboxUpdate.create(update_id=1, key="user:1234", payload={}, due_at=doors)
    assert await InboxUpdate.filter(key="user:1234").count() == 1
    await Tortoise.close_connections()


async def test_conversation_steps_move_into_her_stored_state(empty_database_url: str) -> None:
    """0008: the steps PTB's persistence kept in conversation_state join her user_data row,
    where the dispatcher reads them, so an upgrade in the middle of a sign-up loses nothing."""
    await apply_migrations(empty_database_url, target=f"{APP_LABEL}.0007_outbox_edits")
    await open_database(empty_database_url)
    connection = get_connection("default")
    await connection.execute_script(
        "INSERT INTO user_data (telegram_id, data, updated_at)"
        """ VALUES (41, '{"signup_event": 3}', CURRENT_TIMESTAMP);"""
        "INSERT INTO conversation_state (conversation, key, state, updated_at) VALUES"
        """ ('signup', '[41,41]', '{"value": "destination"}', CURRENT_TIMESTAMP),"""
        """ ('zones', '[41,41]', '{"value": 2}', CURRENT_TIMESTAMP),"""
        """ ('signup', '[42,42]', '{"value": "name"}', CURRENT_TIMESTAMP),"""
        """ ('signup', '[-5,43]', '{"value": "name"}', CURRENT_TIMESTAMP);"""
    )
    await Tortoise.close_connections()

    await apply_migrations(empty_database_url)

    await open_database(empty_database_url)
    first = await UserData.get(telegram_id=41)
    assert first.data == {
        "signup_event": 3,
        "conversations": {"signup": "destination", "zones": 2},
    }
    second = await UserData.get(telegram_id=42)
    assert second.data == {"conversations": {"signup": "name"}}
    assert not await UserData.exists(telegram_id=43)  # not a private chat: nothing to keep
    await Tortoise.close_connections()


async def test_migrations_are_idempotent(empty_database_url: str) -> None:
    await apply_migrations(empty_database_url)
    await apply_migrations(empty_database_url)
    await open_database(empty_database_url)
    assert await Person.all().count() == 0
    await Tortoise.close_connections()


async def test_models_match_the_migrations(db: str) -> None:
    """A model change without its migration fails here."""
    from tortoise.context import require_context

    apps_config = tortoise_config(db)["apps"]
    detector = MigrationAutodetector(require_context().apps, apps_config)
    changes = await detector.changes()
    assert [writer.operations for writer in changes] == []


async def test_an_avoidance_outlives_the_person_it_names(empty_database_url: str) -> None:
    """0004: on both engines, deleting the avoided person keeps the wish (ON DELETE SET NULL,
    which tortoise's AlterField does not change on PostgreSQL) and (person, avoided) stays
    unique (which its SQLite table rebuild drops)."""
    from tortoise.exceptions import IntegrityError

    from companion_bot.models import Avoidance

    await apply_migrations(empty_database_url, target=f"{APP_LABEL}.0003_closing_time_and_privacy")
    await open_database(empty_database_url)
    await get_connection("default").execute_script(
        "INSERT INTO person (telegram_id, created_at, updated_at) VALUES"
        " (11, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), (22, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);"
        "INSERT INTO avoidance (person_id, avoided_id, created_at)"
        " VALUES (1, 2, CURRENT_TIMESTAMP);"
    )
    await Tortoise.close_connections()

    await apply_migrations(empty_database_url)

    await open_database(empty_database_url)
    try:
        await Avoidance.create(person_id=1, avoided_id=2)
        raise AssertionError("a second identical avoidance was accepted")
    except IntegrityError:
        pass
    await Avoidance.filter(id=1).update(avoided_key="k" * 64)
    await get_connection("default").execute_script("DELETE FROM person WHERE telegram_id = 22")
    wish = await Avoidance.get(id=1)
    assert (wish.person_id, wish.avoided_id, wish.avoided_key) == (1, None, "k" * 64)
    await Tortoise.close_connections()


async def test_events_made_before_texts_had_languages_keep_working(
    empty_database_url: str,
) -> None:
    """0006: an event, its meeting point and its zone from 0005 read as before, in every
    language, and take versions in several languages afterwards."""
    from companion_bot.models import MeetingPoint, Zone

    await apply_migrations(empty_database_url, target=f"{APP_LABEL}.0005_zones")
    await open_database(empty_database_url)
    doors = datetime(2030, 1, 1, 22, 0, tzinfo=UTC)
    await get_connection("default").execute_script(
        "INSERT INTO event (name, venue_name, venue_lat, venue_lon, timezone, doors_open, closing,"
        " min_group_size, preferred_min_size, preferred_max_size, max_group_size, charter,"
        " attendee_code, volunteer_code, organizer_code, created_at) VALUES ("
        f"'Nuit', 'Le Hangar', 48.86, 2.38, 'Europe/Paris', '{doors.isoformat()}',"
        f" '{(doors + timedelta(hours=7)).isoformat()}', 2, 3, 4, 5, 'Soyons bienveillantes',"
        " 'att', 'vol', 'org', CURRENT_TIMESTAMP);"
        "INSERT INTO meeting_point (event_id, position, name) VALUES (1, 0, 'Entrée principale');"
        "INSERT INTO event_zone (event_id, name, lat, lon, created_at)"
        " VALUES (1, 'Navette', 48.9, 2.4, CURRENT_TIMESTAMP);"
    )
    await Tortoise.close_connections()

    await apply_migrations(empty_database_url)

    await open_database(empty_database_url)
    event = await Event.get(attendee_code="att")
    point = await MeetingPoint.get(event=event)
    zone = await Zone.get(event=event)
    for language in ("fr", "en"):
        assert event.localized("name", language) == "Nuit"
        assert event.localized("charter", language) == "Soyons bienveillantes"
        assert point.localized("name", language) == "Entrée principale"
        assert zone.localized("name", language) == "Navette"
    point.translations = {"name": {"fr": "Entrée principale", "en": "Main entrance"}}
    await point.save(update_fields=["translations"])
    assert (await MeetingPoint.get(id=point.id)).localized("name", "en") == "Main entrance"
    await Tortoise.close_connections()
