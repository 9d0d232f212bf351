"""`Prepared` statements (companion_bot/prepared.py): the same rows and models as the tortoise
query they are built from, on SQLite and PostgreSQL, in and out of a transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tortoise.transactions import in_transaction

from companion_bot import persistence
from companion_bot.models import Person, Registration, UserData
from companion_bot.prepared import Prepared, positional
from companion_bot.services import registrations

HER_REGISTRATION = registrations.registration_by("person__telegram_id")  # joins event, person
BY_NAME = Prepared(Person, lambda name: Person.filter(display_name=name).order_by("id"), name=str)


async def test_a_prepared_read_gives_the_models_of_its_query_joined_ones_included(db, event):
    await registrations.start_signup(501, event)
    mine = await registrations.start_signup(502, event)
    again = await HER_REGISTRATION.first(person=502, event_id=event.id)
    plain = await Registration.get(id=mine.id).select_related("event", "person")
    assert again is not None and again.id == mine.id
    assert again.event.name == plain.event.name == event.name
    assert again.person.telegram_id == 502 and again.person.id == plain.person.id
    assert again.status == plain.status and again.created_at == plain.created_at
    # The same SQL with other values, run again (built once).
    assert (await HER_REGISTRATION.first(person=501, event_id=event.id)).person.telegram_id == 501
    assert await HER_REGISTRATION.first(person=503, event_id=event.id) is None


async def test_a_prepared_read_sees_its_transaction_and_takes_strings(db):
    async with in_transaction():
        await Person.create(telegram_id=601, display_name="Zoé")
        await Person.create(telegram_id=602, display_name="Zoé")
        found = await BY_NAME.all(name="Zoé")
        assert [person.telegram_id for person in found] == [601, 602]
    assert await BY_NAME.all(name="Léa") == []


async def test_values_of_another_type_are_refused(db):
    with pytest.raises(TypeError):
        await HER_REGISTRATION.first(person="502", event_id=1)
    with pytest.raises(TypeError):
        Prepared(Person, lambda when: Person.filter(created_at=when), when=float)


BLOCKED_SINCE = Prepared(
    Person,
    lambda telegram_id, when: Person.filter(telegram_id=telegram_id).update(blocked_bot_at=when),
    telegram_id=int,
    when=datetime | None,
)


async def test_a_prepared_update_sets_times_and_nulls_and_counts_its_rows(db):
    await Person.create(telegram_id=701)
    when = datetime(2026, 12, 5, 23, 30, 15, 123456, tzinfo=UTC)
    assert await BLOCKED_SINCE.execute(telegram_id=701, when=when) == 1
    assert (await Person.get(telegram_id=701)).blocked_bot_at == when
    assert await BLOCKED_SINCE.execute(telegram_id=701, when=None) == 1
    assert (await Person.get(telegram_id=701)).blocked_bot_at is None
    assert await BLOCKED_SINCE.execute(telegram_id=702, when=when) == 0
    with pytest.raises(TypeError):  # a naive time
        await BLOCKED_SINCE.execute(telegram_id=701, when=datetime(2026, 12, 5, 23, 30))


TELEGRAM_IDS = Prepared(
    Person,
    lambda low, high: (
        Person.filter(telegram_id__gte=low, telegram_id__lt=high)
        .order_by("telegram_id")
        .values_list("telegram_id", "display_name")
    ),
    low=int,
    high=int,
)


async def test_prepared_rows_are_the_values_as_stored(db):
    await Person.create(telegram_id=801, display_name="Ada")
    await Person.create(telegram_id=802)
    await Person.create(telegram_id=900)
    assert await TELEGRAM_IDS.rows(low=800, high=900) == [(801, "Ada"), (802, None)]
    assert await TELEGRAM_IDS.rows(low=0, high=10) == []


def test_named_parameters_become_the_placeholders_of_each_driver():
    sql = "a = :x AND b = :y OR c = :x AND e::text"
    assert positional(sql, "postgres") == ("a = $1 AND b = $2 OR c = $1 AND e::text", ["x", "y"])
    assert positional(sql, "sqlite") == ("a = ? AND b = ? OR c = ? AND e::text", ["x", "y", "x"])


async def test_her_state_is_written_by_one_statement_new_or_not(db):
    await persistence.save(701, {"step": 1}, {})
    await persistence.save(701, {"step": 2, "name": "Zoé"}, {"step": 1})
    assert await persistence.load(701) == {"step": 2, "name": "Zoé"}
    assert await UserData.filter(telegram_id=701).count() == 1
    await persistence.save(701, {}, {"step": 2})
    assert await persistence.load(701) == {}
