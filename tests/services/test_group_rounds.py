"""Matching rounds against the database: rounds and placements running at the same time, the
number of queries a round and a placement make, and members who no longer fit their group.

Run on SQLite, and on PostgreSQL with TEST_DATABASE_URL (there the event's row lock is what
keeps two processes apart)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from companion_bot.models import (
    ArrivalKind,
    ArrivalSlot,
    CompanionGroup,
    DepartureWave,
    GroupKind,
    GroupMember,
    GroupStatus,
    MemberStatus,
    OutboxMessage,
    Person,
    Registration,
    RegistrationStatus,
    Zone,
)
from companion_bot.services import groups
from companion_bot.services.events import create_event
from tests.support import event_spec

EAST = ["fr-montreuil", "fr-bagnolet", "fr-vincennes", "fr-les-lilas", "fr-romainville"]


def announced_by(event):
    """Past every announcement deadline of the test event (see tests.support.event_spec)."""
    return event.doors_open - timedelta(hours=1, minutes=59)


async def sign_up_many(event, count: int, first: int = 0, **answers) -> list[Registration]:
    """Confirmed registrations made directly (the sign-up conversation has its own tests)."""
    slots = await ArrivalSlot.filter(event=event).order_by("starts_at")
    waves = await DepartureWave.filter(event=event).order_by("departs_at")
    registrations = []
    for i in range(first, first + count):
        person = await Person.create(telegram_id=700_000 + i, language="en", display_name=f"P{i}")
        values = dict(
            event=event, person=person, status=RegistrationStatus.CONFIRMED,
            consent_at=event.doors_open - timedelta(days=2),
            confirmed_at=event.doors_open - timedelta(days=2),
            arrival_kind=ArrivalKind.SLOT, arrival_slot=slots[i % 2 if len(slots) > 1 else 0],
            wants_departure_group=True, destination_place_id=EAST[i % len(EAST)],
            transport="transit", departure_wave=waves[0],
        )  # fmt: skip
        values.update(answers)
        registrations.append(await Registration.create(**values))
    return registrations


async def assert_one_group_per_kind(event) -> None:
    """Nobody is in two live groups of one kind, nor introduced twice to groups of one kind."""
    rows = await GroupMember.filter(
        group__event=event,
        status=MemberStatus.ACTIVE,
        group__status__in=(GroupStatus.ANNOUNCED, GroupStatus.FORMING, GroupStatus.LEFT),
    ).values_list("registration_id", "group__kind")
    counts = Counter(rows)
    assert counts and max(counts.values()) == 1, [k for k, v in counts.items() if v > 1]
    kinds = dict(await CompanionGroup.filter(event=event).values_list("id", "kind"))
    intros = Counter()
    for key in await OutboxMessage.filter(dedupe_key__startswith="intro:").values_list(
        "dedupe_key", flat=True
    ):
        _, group_id, registration_id, *_ = key.split(":")
        intros[(registration_id, kinds.get(int(group_id)))] += 1
    assert intros and max(intros.values()) == 1, [k for k, v in intros.items() if v > 1]


def as_if_in_two_processes(monkeypatch) -> None:
    """No in-process lock: only the database (row lock, re-check) keeps rounds apart."""
    monkeypatch.setattr(groups, "event_lock", lambda event_id: asyncio.Lock())


def read_before(monkeypatch, *waits) -> None:
    """Rounds read the database, then wait for `waits` before they compute and write: the
    worst interleaving, made certain."""
    load = groups.load_input

    async def load_then_wait(event_id):
        data = await load(event_id)
        for wait in waits:
            await wait()
        return data

    monkeypatch.setattr(groups, "load_input", load_then_wait)


async def test_two_rounds_at_once_put_nobody_in_two_groups(event):
    await sign_up_many(event, 14)
    now = announced_by(event)
    first, second = await asyncio.gather(
        groups.run_round(event.id, now), groups.run_round(event.id, now)
    )
    await assert_one_group_per_kind(event)
    # In one process the second round waits for the first, then finds everyone grouped.
    assert first.announced > 0 and second.announced == 0


async def test_two_processes_running_a_round_at_once_put_nobody_in_two_groups(event, monkeypatch):
    as_if_in_two_processes(monkeypatch)
    both_read = asyncio.Barrier(2)
    read_before(monkeypatch, both_read.wait)
    await sign_up_many(event, 14)
    now = announced_by(event)
    results = await asyncio.gather(groups.run_round(event.id, now), groups.run_round(event.id, now))
    await assert_one_group_per_kind(event)
    # Both computed the same groups; the second to write found them taken.
    assert sorted(r.announced for r in results)[0] == 0 < sum(r.announced for r in results)


async def test_sign_ups_placed_during_a_round_are_in_one_group_per_kind(event, monkeypatch):
    await sign_up_many(event, 12)
    now = announced_by(event)
    await groups.run_round(event.id, now)
    late = await sign_up_many(event, 6, first=100)
    placed = asyncio.Event()
    as_if_in_two_processes(monkeypatch)
    read_before(monkeypatch, placed.wait)

    async def place_all() -> None:
        for registration in late:
            await groups.place_signup(registration.id, now)
        placed.set()

    await asyncio.gather(groups.run_round(event.id, now), place_all())
    await assert_one_group_per_kind(event)
    # They joined groups between the round's read and its write.
    grouped = await GroupMember.filter(
        registration_id__in=[r.id for r in late], status=MemberStatus.ACTIVE
    ).count()
    assert grouped >= len(late)


@pytest.fixture
def queries(caplog):
    """Counts the SQL statements tortoise sends (it logs each one at debug level)."""
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")

    class Counter:
        def __init__(self) -> None:
            self.start = 0

        def __enter__(self):
            self.start = len(caplog.records)
            return self

        def __exit__(self, *exc) -> None:
            self.count = sum(
                1 for r in caplog.records[self.start :] if r.name == "tortoise.db_client"
            )

    return Counter


async def test_loading_a_round_takes_the_same_queries_for_2_or_12_groups(event, queries):
    await sign_up_many(event, 6)
    now = announced_by(event)
    await groups.run_round(event.id, now)
    with queries() as few:
        small = await groups.load_input(event.id)
    await sign_up_many(event, 30, first=100)
    await groups.run_round(event.id, now)
    with queries() as many:
        large = await groups.load_input(event.id)
    assert len(large.locked) >= len(small.locked) + 8
    assert many.count == few.count


async def test_a_round_reads_the_zones_in_one_query_and_takes_their_points(event, queries):
    """Zones of the event give their points to whoever heads there, read once per round
    however many zones and people there are."""
    first = await Zone.create(event=event, name="Z0", lat=48.93, lon=2.36)
    await sign_up_many(event, 4, destination_place_id=f"zone:{first.id}")
    with queries() as few:
        small = await groups.load_input(event.id)
    more = [await Zone.create(event=event, name=f"Z{i}", lat=48.8 + i / 100, lon=2.3)
            for i in range(1, 8)]  # fmt: skip
    for i, zone in enumerate(more):
        await sign_up_many(event, 2, first=100 + 2 * i, destination_place_id=f"zone:{zone.id}")
    with queries() as many:
        large = await groups.load_input(event.id)
    assert many.count == few.count
    assert len(small.attendees) == 4 and len(large.attendees) == 18
    points = {(a.destination.lat, a.destination.lon) for a in large.attendees[:4]}
    assert points == {(48.93, 2.36)}
    assert {a.place_id for a in large.attendees[:4]} == {f"zone:{first.id}"}
    # A zone gone since (a purge, a race) counts as no destination: nothing fails.
    await Zone.filter(id=more[0].id).delete()
    data = await groups.load_input(event.id)
    assert sum(a.destination is None for a in data.attendees) == 2


async def test_loading_a_placement_takes_the_same_queries_however_big_the_event(event, queries):
    now = announced_by(event)
    await sign_up_many(event, 6)
    await groups.run_round(event.id, now)
    first = (await sign_up_many(event, 1, first=50))[0]
    with queries() as few:
        small = await groups.load_placement(event.id, first.id, now)
    await sign_up_many(event, 30, first=100)
    await groups.run_round(event.id, now)
    second = (await sign_up_many(event, 1, first=51))[0]
    with queries() as many:
        large = await groups.load_placement(event.id, second.id, now)
    assert len(large.groups) >= len(small.groups) + 4
    assert many.count == few.count
    await groups.place_signup(second.id, now)
    assert await GroupMember.filter(registration=second, status=MemberStatus.ACTIVE).count() == 2


async def test_a_round_takes_out_a_member_whose_answers_changed_without_confirming(event):
    """She edited her transport in /me and never tapped Done: the stored answer counts."""
    registrations = await sign_up_many(event, 4)
    now = announced_by(event)
    await groups.run_round(event.id, now)
    changed = registrations[0]
    await Person.filter(id=changed.person_id).update(language="fr")
    changed.transport = "taxi"
    await changed.save(update_fields=["transport", "updated_at"])
    data = await groups.load_input(event.id)
    departure = [g for g in data.locked if g.kind.value == "departure"]
    assert all(str(changed.id) not in g.members for g in departure)
    assert [leaving.registration_id for leaving in data.leaving] == [changed.id]

    await groups.run_round(event.id, now + timedelta(minutes=1))
    membership = await GroupMember.get(
        registration=changed, group__kind=GroupKind.DEPARTURE
    ).prefetch_related("group")
    assert membership.status == MemberStatus.LEFT
    for group in await CompanionGroup.filter(
        event=event, kind=GroupKind.DEPARTURE, status=GroupStatus.ANNOUNCED
    ):
        modes = await GroupMember.filter(group=group, status=MemberStatus.ACTIVE).values_list(
            "registration__transport", flat=True
        )
        assert len(set(modes)) == 1, modes
    texts = await OutboxMessage.filter(chat_id=700_000).values_list("payload", flat=True)
    assert any("ne correspond plus à tes réponses" in p["text"] for p in texts)  # in her language


async def test_leaving_an_oversize_group_clears_the_flag(db):
    event = await create_event(
        event_spec(
            datetime.now(UTC) + timedelta(days=1),
            min_group_size=3,
            preferred_min_size=3,
            preferred_max_size=3,
            max_group_size=3,
        )
    )
    registrations = await sign_up_many(
        event, 4, destination_place_id="fr-montreuil", arrival_kind=ArrivalKind.ON_MY_OWN
    )
    await groups.run_round(event.id, announced_by(event))
    group = await CompanionGroup.get(event=event, kind=GroupKind.DEPARTURE)
    assert group.oversize and group.status == GroupStatus.ANNOUNCED
    await groups.remove_registration(registrations[0].id, announced_by(event))
    await group.refresh_from_db()
    assert not group.oversize and group.status == GroupStatus.ANNOUNCED
    assert await GroupMember.filter(group=group, status=MemberStatus.ACTIVE).count() == 3
