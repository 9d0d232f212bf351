"""Online and hybrid events, end to end: an online game night (tables with a call link and an
activity), a hybrid evening (in person or online), bad input, and privacy (a table's link
reaches only its members; /forget takes her off her table)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from companion_bot.models import (
    CompanionGroup,
    EventKind,
    GroupMember,
    MemberStatus,
    Registration,
    Role,
    RoleKind,
    Unplaced,
)
from companion_bot.services import tables
from companion_bot.services.errors import UserInputError
from companion_bot.services.events import EventSpec, create_event
from companion_bot.services.tables import TableSpec
from tests.support import PARIS, BotHarness, data, sign_up, texts_after

WOLF = "https://meet.jit.si/loup-garou-mons"
CHAT = "https://meet.jit.si/papote-mons"
QUIZ = "https://discord.gg/quiz-mons"


def game_night(day: datetime, **overrides) -> EventSpec:
    """Online, 20:00 (Paris) on `day`: join slots 20:00 and 21:00; a Loup-Garou table of 8,
    a quiz table of 5 and a chatting table of 4."""
    start = datetime.combine(day.astimezone(PARIS).date(), time(20, 0), tzinfo=PARIS)
    values = dict(
        name="Soirée jeux",
        venue_name="Online",
        venue_lat=0.0,
        venue_lon=0.0,
        timezone="Europe/Paris",
        doors_open=start,
        closing=start + timedelta(hours=3),
        charter="Be kind. Look out for each other. Say when you leave the call.",
        meeting_points=["Main entrance"],
        arrival_slots=[
            (start, start + timedelta(hours=1), 0),
            (start + timedelta(hours=1), start + timedelta(hours=2), 0),
        ],
        departure_waves=[],
        kind=EventKind.ONLINE,
        tables=[
            TableSpec("Loup-Garou", WOLF, 8, "Loup-Garou"),
            TableSpec("Quiz", QUIZ, 5, "Quiz"),
            TableSpec("Papote", CHAT, 4, None),
        ],
    )
    values.update(overrides)
    return EventSpec(**values)


@pytest.fixture
async def online_event(db: str):
    return await create_event(game_night(datetime.now(UTC) + timedelta(days=1)), None)


async def sign_up_online(
    harness: BotHarness,
    person,
    code: str,
    *,
    activity: str | None = "su:act:0",
    slot: int = 0,
    hybrid: bool = False,
) -> None:
    """Online: language, charter, name, (hybrid: online), join time, activity, confirm."""
    await harness.say(person, f"/start {code}")
    await harness.tap(person, data("su:lang:en"))
    await harness.tap(person, data("su:charter:yes"))
    if any(b.callback_data == "su:name:default" for b in person.inline_buttons()):
        await harness.tap(person, data("su:name:default"))
    if hybrid:
        await harness.tap(person, data("su:att:online"))
    slots = [b for b in person.inline_buttons() if (b.callback_data or "").startswith("su:arr:")]
    await harness.tap(person, data(slots[slot].callback_data))
    if activity is not None:
        await harness.tap(person, data(activity))
    await harness.tap(person, data("su:sum:confirm"))


def texts_of(person) -> list[str]:
    return [message.text or "" for message in person.messages()]


async def test_online_game_night_plays_through(harness: BotHarness, online_event) -> None:
    event = online_event
    host = harness.user(first_name="Host", language_code="en")
    await harness.say(host, f"/start {event.volunteer_code}")
    assert await Role.exists(event=event, person__telegram_id=host.id, kind=RoleKind.VOLUNTEER)
    marie = harness.user(first_name="Marie", language_code="en")

    # Sign-up: language, charter, name, join time, activity; never a neighbourhood or transport.
    before = len(marie.messages())
    await harness.say(marie, f"/start {event.attendee_code}")
    await harness.tap(marie, "✓ English")
    await harness.tap(marie, "✅ I agree")
    reply = await harness.tap(marie, "Use “Marie”")
    assert "When will you join?" in reply.text
    assert [b.text for b in marie.inline_buttons()] == ["20:00 – 21:00", "21:00 – 22:00"]
    reply = await harness.tap(marie, "20:00 – 21:00")
    assert "Which activity would you like?" in reply.text
    assert [b.text for b in marie.inline_buttons()] == ["Loup-Garou", "Quiz", "Anything suits me"]
    # Typed: an activity no table offers gets a clear answer, and the question again.
    reply = await harness.say(marie, "Poker")
    assert any("No table offers “Poker”. The tables offer: Loup-Garou, Quiz." in text
               for text in texts_after(marie, before))  # fmt: skip
    assert "Which activity would you like?" in reply.text
    reply = await harness.say(marie, "loup-garou")
    assert "Please check and confirm" in reply.text
    assert "Activity: Loup-Garou" in reply.text
    assert "Destination" not in reply.text and "Transport" not in reply.text
    reply = await harness.tap(marie, "✅ Confirm")
    assert "table's call link" in reply.text
    asked = "\n".join(texts_after(marie, before))
    assert "heading after the event" not in asked and "travel home" not in asked
    registration = await Registration.get(person__telegram_id=marie.id)
    assert registration.online is True and registration.activity == "Loup-Garou"
    assert registration.destination_place_id is None and registration.transport is None

    # Five more for Loup-Garou, two who don't mind, one alone for the quiz, at 20:00.
    wolves = [harness.user(first_name=f"Wolf{i}", language_code="en") for i in range(5)]
    for person in wolves:
        await sign_up_online(harness, person, event.attendee_code, activity="su:act:0")
    easy = [harness.user(first_name=f"Easy{i}", language_code="en") for i in range(2)]
    for person in easy:
        await sign_up_online(harness, person, event.attendee_code, activity="su:act:any")
    lonely = harness.user(first_name="Quizzy", language_code="en")
    await sign_up_online(harness, lonely, event.attendee_code, activity="su:act:1")
    assert not await CompanionGroup.exists(event=event)  # nobody is seated before the time

    await harness.travel_to(event.doors_open - tables.SEAT_BEFORE)
    wolf_group = await CompanionGroup.get(event=event, table__name="Loup-Garou")
    members = await GroupMember.filter(group=wolf_group).values_list(
        "registration__person__telegram_id", flat=True
    )
    assert set(members) == {marie.id, *(w.id for w in wolves)}
    for person in [marie, *wolves]:
        intro = [t for t in texts_of(person) if t.startswith("👋 Your table")]
        assert len(intro) == 1 and WOLF in intro[0] and "Loup-Garou" in intro[0]
        assert CHAT not in "".join(texts_of(person)) and QUIZ not in "".join(texts_of(person))
    for person in easy:
        intro = [t for t in texts_of(person) if t.startswith("👋 Your table")]
        assert len(intro) == 1 and CHAT in intro[0], texts_of(person)
        assert WOLF not in "".join(texts_of(person))
    # Alone for the quiz: told, not given any link, and flagged to the host with the reason.
    assert any("Nobody else joins" in t for t in texts_of(lonely))
    for link in (WOLF, CHAT, QUIZ):
        assert link not in "".join(texts_of(lonely))
    assert any("No table for Quizzy" in t and "nobody else at that time" in t
               for t in texts_of(host)), texts_of(host)  # fmt: skip
    assert await Unplaced.filter(event=event, resolved_at=None).count() == 1

    # The relay: what Marie writes reaches her table only, under her display name.
    before_wolf, before_easy = len(wolves[0].messages()), len(easy[0].messages())
    await harness.say(marie, "Hello wolves!")
    assert any("Hello wolves!" in t for t in texts_after(wolves[0], before_wolf))
    assert not any("Hello wolves!" in t for t in texts_after(easy[0], before_easy))

    reply = await harness.say(wolves[1], "/group")
    assert "Your table: Loup-Garou, " + WOLF in reply.text and "Marie" in reply.text

    # At the start: a reminder with the link and "we're in".
    await harness.travel_to(event.doors_open)
    reminder = marie.last_message()
    assert "starts now" in reminder.text and WOLF in reminder.text
    reply = await harness.tap(marie, "✅ We're in")
    assert (await Registration.get(person__telegram_id=marie.id)).joined_table_at is not None

    # A host moves the quiz player to the chatting table: she gets its link, nobody else's.
    lonely_registration = await Registration.get(person__telegram_id=lonely.id)
    before = len(lonely.messages())
    await harness.say(host, f"/movetable {lonely_registration.id} Papote")
    assert any(CHAT in t for t in texts_after(lonely, before))
    assert await Unplaced.filter(event=event, resolved_at=None).count() == 0
    # The hosts' view shows the tables and who sits where.
    reply = await harness.say(host, "/tables")
    assert "Loup-Garou" in reply.text and "Papote" in reply.text and "Quizzy" in reply.text
    assert str(marie.id) not in reply.text


async def test_forget_takes_her_off_her_table(harness: BotHarness, online_event) -> None:
    event = online_event
    people = [harness.user(first_name=f"Amie{i}", language_code="en") for i in range(3)]
    for person in people:
        await sign_up_online(harness, person, event.attendee_code, activity="su:act:any")
    await harness.travel_to(event.doors_open - tables.SEAT_BEFORE)
    group = await CompanionGroup.get(event=event)
    assert await GroupMember.filter(group=group, status=MemberStatus.ACTIVE).count() == 3

    gone = people[0]
    before = len(people[1].messages())
    await harness.say(gone, "/forget")
    await harness.tap(gone, "Yes, delete everything")
    await harness.drain()
    assert not await Registration.exists(person__telegram_id=gone.id)
    assert await GroupMember.filter(group=group, status=MemberStatus.ACTIVE).count() == 2
    assert any("A member left your table" in t for t in texts_after(people[1], before))


async def test_late_sign_up_is_seated_at_once(harness: BotHarness, online_event) -> None:
    event = online_event
    first = [harness.user(first_name=f"Amie{i}", language_code="en") for i in range(2)]
    for person in first:
        await sign_up_online(harness, person, event.attendee_code, activity="su:act:0")
    await harness.travel_to(event.doors_open - tables.SEAT_BEFORE)
    late = harness.user(first_name="Late", language_code="en")
    before = len(first[0].messages())
    await sign_up_online(harness, late, event.attendee_code, activity="su:act:0")
    assert any(t.startswith("👋 Your table") and WOLF in t for t in texts_of(late))
    assert any("Late joins your table" in t for t in texts_after(first[0], before))


async def test_hybrid_evening_in_person_and_online(harness: BotHarness, db) -> None:
    from tests.support import event_spec

    spec = event_spec(
        datetime.now(UTC) + timedelta(days=1),
        kind=EventKind.HYBRID,
        tables=[TableSpec("Stream", "https://meet.jit.si/stream", 6, None)],
    )
    event = await create_event(spec, None)
    here = harness.user(first_name="Ici", language_code="en")
    reply = await harness.say(here, f"/start {event.attendee_code}")
    await harness.tap(here, data("su:lang:en"))
    await harness.tap(here, data("su:charter:yes"))
    reply = await harness.tap(here, data("su:name:default"))
    assert "in person, or join online?" in reply.text
    reply = await harness.tap(here, data("su:att:person"))
    assert "When do you plan to arrive at La Station?" in reply.text
    await harness.tap(here, data("su:arr:slot:*"))
    reply = await harness.say(here, "Oberkampf")
    assert "How will you travel home?" in reply.text
    await harness.tap(here, data("su:tr:transit"))
    reply = await harness.tap(here, data("su:wave:*"))
    assert "Coming: in person" in reply.text
    await harness.tap(here, data("su:sum:confirm"))

    remote = []
    for i in range(2):
        person = harness.user(first_name=f"Loin{i}", language_code="en")
        await harness.say(person, f"/start {event.attendee_code}")
        await harness.tap(person, data("su:lang:en"))
        await harness.tap(person, data("su:charter:yes"))
        await harness.tap(person, data("su:name:default"))
        reply = await harness.tap(person, data("su:att:online"))
        assert "When will you join?" in reply.text
        reply = await harness.tap(person, data("su:arr:slot:*"))
        assert "Coming: online" in reply.text and "Destination" not in reply.text
        await harness.tap(person, data("su:sum:confirm"))
        remote.append(person)
    await harness.travel_to(event.doors_open - tables.SEAT_BEFORE)
    for person in remote:
        assert any("https://meet.jit.si/stream" in t for t in texts_of(person))
    assert not any("https://meet.jit.si/stream" in t for t in texts_of(here))
    table_group = await CompanionGroup.get(event=event, table_id__not_isnull=True)
    assert await GroupMember.filter(group=table_group).count() == 2
    # The in-person attendee is never seated at a table nor matched with online ones.
    assert not await GroupMember.exists(
        registration__person__telegram_id=here.id, group__table_id__not_isnull=True
    )


async def test_in_person_sign_up_unchanged(harness: BotHarness, event) -> None:
    marie = harness.user(first_name="Marie", language_code="en")
    await sign_up(harness, marie, event.attendee_code)
    registration = await Registration.get(person__telegram_id=marie.id)
    assert registration.online is None and registration.activity is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Room; ftp://example.org/x; 6", "is not a call link"),
        ("Room; meet.jit.si/x; 6", "is not a call link"),
        ("Room; javascript:alert(1); 6", "is not a call link"),
        ("Room; https://meet.jit.si/x; 0", "A table seats 2 to 50 people"),
        ("Room; https://meet.jit.si/x; 500", "A table seats 2 to 50 people"),
        ("Room; https://meet.jit.si/x", "A table goes: name; call link"),
    ],
)
def test_bad_tables_are_refused(text: str, message: str) -> None:
    with pytest.raises(UserInputError) as caught:
        tables.parse_table(text)
    assert message in caught.value.translate(lambda s: s)


async def test_departures_for_an_online_event_are_refused(db) -> None:
    spec = game_night(
        datetime.now(UTC) + timedelta(days=1),
        departure_waves=[(datetime.now(UTC) + timedelta(days=1, hours=3), 0)],
    )
    with pytest.raises(UserInputError) as caught:
        await create_event(spec, None)
    assert "no departures" in caught.value.message


def in_ten_days() -> str:
    return (datetime.now(UTC) + timedelta(days=10)).astimezone(PARIS).strftime("%d/%m/%Y")


async def test_newevent_online_asks_no_venue_closing_nor_departures(harness: BotHarness) -> None:
    from companion_bot.models import DepartureWave, Event, OnlineTable
    from tests.support import ADMIN_ID

    alex = harness.user(user_id=ADMIN_ID, first_name="Alex", language_code="en")
    reply = await harness.say(alex, "/newevent")
    assert "What is its name?" in reply.text
    reply = await harness.tap(alex, "💻 Online event")
    assert "What is its name?" in reply.text and not alex.inline_buttons()
    reply = await harness.say(alex, "Soirée jeux")
    assert "Time zone of the event?" in reply.text  # no venue, no location
    await harness.tap(alex, data("ne:default:timezone"))
    reply = await harness.say(alex, f"{in_ten_days()} 20:00")
    assert "Arrival slots" in reply.text  # no closing, no meeting points
    reply = await harness.say(alex, "20:00-21:00, 21:00-22:00")
    assert "Tables for those joining online" in reply.text
    before = len(alex.messages())
    for bad, explanation in (
        ("Loup-Garou; ftp://x.org/wolf; 8; Loup-Garou", "is not a call link"),
        ("Loup-Garou; https://meet.jit.si/wolf; 500", "A table seats 2 to 50 people"),
        ("Loup-Garou; https://meet.jit.si/wolf; 0", "A table seats 2 to 50 people"),
    ):
        before = len(alex.messages())
        reply = await harness.say(alex, bad)
        assert explanation in texts_after(alex, before)[0]
        assert "Tables for those joining online" in reply.text
    reply = await harness.say(alex, f"Loup-Garou; {WOLF}; 8; Loup-Garou\nPapote; {CHAT}; 4")
    assert "Group sizes" in reply.text  # no departures asked
    await harness.tap(alex, data("ne:default:sizes"))
    await harness.tap(alex, data("ne:default:charter"))
    reply = await harness.tap(alex, data("ne:default:retention"))
    assert "Please check the event:" in reply.text
    assert "Online event: no venue, no departures." in reply.text
    assert "Departures" not in reply.text and WOLF in reply.text
    reply = await harness.tap(alex, "✅ Create the event")
    assert "Event created!" in reply.text
    event = await Event.get(name="Soirée jeux")
    assert event.kind == EventKind.ONLINE
    assert not await DepartureWave.exists(event=event)
    assert event.closing == event.doors_open + timedelta(hours=2)
    assert await OnlineTable.filter(event=event).count() == 2


async def test_newevent_small_gathering_in_under_a_minute(harness: BotHarness) -> None:
    from companion_bot.models import ArrivalSlot, DepartureWave, Event
    from tests.support import ADMIN_ID

    alex = harness.user(user_id=ADMIN_ID, first_name="Alex", language_code="en")
    await harness.say(alex, "/newevent")
    await harness.tap(alex, "⚡ Small gathering, quick setup")
    await harness.say(alex, "Jam session")
    await harness.say(alex, "Le Local")
    await harness.say(alex, "Ixelles")
    await harness.tap(alex, data("ne:default:timezone"))
    await harness.say(alex, f"{in_ten_days()} 19:00")
    reply = await harness.say(alex, "23:00")
    # In person, even small: where someone who does not feel safe finds the hosts.
    assert reply.text.startswith("The safe place")
    reply = await harness.say(alex, "The bar; ground floor; 19:00–23:00")
    assert "Please check the event:" in reply.text  # the rest is the preset's
    reply = await harness.tap(alex, "✅ Create the event")
    event = await Event.get(name="Jam session")
    assert event.safe_place_name == "The bar"
    assert await ArrivalSlot.filter(event=event).count() == 1
    waves = await DepartureWave.filter(event=event)
    assert [w.departs_at for w in waves] == [event.closing]
    assert "I treat my companions with respect" in event.charter


async def jam_session():
    """The quick preset, as `event create --preset small` builds it: one slot, one departure."""
    from companion_bot.services.events import build_spec, locate_venue

    spec = build_spec(
        name="Jam session", venue_name="Le Local", venue=locate_venue("Ixelles"),
        timezone="Europe/Brussels", doors_open=f"{in_ten_days()} 19:00", closing="23:00",
        meeting_points=None, arrival_slots=None, departures=None, group_sizes="2 3-4 5",
        charter=None, now=datetime.now(UTC), small=True,
    )  # fmt: skip
    return await create_event(spec, None)


async def test_twelve_person_jam_session_plays_through(harness: BotHarness, db) -> None:
    """A small in-person gathering: 12 people, one slot, one departure; pairs are fine."""
    from companion_bot.models import GroupKind, GroupStatus

    event = await jam_session()
    places = ["Ixelles", "Etterbeek", "Saint-Gilles", "Forest", "Uccle", "Schaerbeek"]
    people = []
    for i in range(12):
        person = harness.user(first_name=f"Jam{i}", language_code="en")
        await sign_up(harness, person, event.attendee_code, destination=places[i % 6])
        people.append(person)
    await harness.travel_to(event.doors_open - timedelta(minutes=30))
    arrival = await CompanionGroup.filter(event=event, kind=GroupKind.ARRIVAL,
                                          status=GroupStatus.ANNOUNCED)  # fmt: skip
    seated = await GroupMember.filter(
        group_id__in=[g.id for g in arrival], status=MemberStatus.ACTIVE
    ).count()
    assert seated == 12
    for group in arrival:
        assert 2 <= await GroupMember.filter(group=group).count() <= 5
    assert not await CompanionGroup.exists(event=event, table_id__not_isnull=True)
    await harness.travel_to(event.closing - timedelta(minutes=10))
    departure = await CompanionGroup.filter(event=event, kind=GroupKind.DEPARTURE)
    assert departure
    for person in people:
        assert any("Your arrival group" in t for t in texts_of(person))


async def test_board_and_mydata_show_tables_not_departures(harness: BotHarness, online_event):
    from companion_bot.i18n import translator
    from companion_bot.services.board import live_board
    from companion_bot.web.board import board_state, render_page

    event = online_event
    people = [harness.user(first_name=f"Amie{i}", language_code="en") for i in range(2)]
    for person in people:
        await sign_up_online(harness, person, event.attendee_code, activity="su:act:0")
    await harness.travel_to(event.doors_open - tables.SEAT_BEFORE)
    await event.refresh_from_db()
    from companion_bot.services.board import board_token

    await board_token(event)
    board = await live_board(event)
    state = board_state(translator("en"), board)
    assert [card["time"] for card in state["tables"]] == [
        "Loup-Garou (Loup-Garou)",
        "Quiz (Quiz)",
        "Papote",
    ]
    members = state["tables"][0]["groups"][0]["members"]
    assert {m["name"] for m in members} == {"Amie0", "Amie1"}
    page = render_page(translator("en"), board)
    assert 'id="tables"' in page and 'id="waves"' not in page

    reply = await harness.say(people[0], "/mydata")
    text = "\n".join(texts_of(people[0])[-3:])
    assert "Table “Loup-Garou” at Soirée jeux" in text, text
    assert "Activity: Loup-Garou" in text and "Destination" not in text
    assert reply is not None


async def test_editing_her_answers_moves_her_between_tables_and_journeys(harness, db) -> None:
    """Hybrid: /me changes her activity; from online to in person she leaves her table."""
    from tests.support import event_spec

    spec = event_spec(
        datetime.now(UTC) + timedelta(days=1),
        kind=EventKind.HYBRID,
        tables=[TableSpec("Quiz", QUIZ, 4, "Quiz"), TableSpec("Papote", CHAT, 4, None)],
    )
    event = await create_event(spec, None)
    people = []
    for i in range(3):
        person = harness.user(first_name=f"Amie{i}", language_code="en")
        await sign_up_online(harness, person, event.attendee_code, activity="su:act:any",
                             hybrid=True)  # fmt: skip
        people.append(person)
    amie = people[0]
    await harness.say(amie, "/me")
    reply = await harness.tap(amie, "✏️ Activity")
    assert "Which activity would you like?" in reply.text
    reply = await harness.tap(amie, "Quiz")
    assert "Activity: Quiz" in reply.text
    assert (await Registration.get(person__telegram_id=amie.id)).activity == "Quiz"

    await harness.travel_to(event.doors_open - tables.SEAT_BEFORE)
    mover = people[1]
    assert await GroupMember.exists(registration__person__telegram_id=mover.id,
                                    status=MemberStatus.ACTIVE)  # fmt: skip
    await harness.say(mover, "/me")
    await harness.tap(mover, "✏️ Coming")
    reply = await harness.tap(mover, data("su:att:person"))
    assert "Where are you heading after the event?" in reply.text  # her slot is kept
    await harness.say(mover, "Oberkampf")
    await harness.tap(mover, data("su:tr:transit"))
    reply = await harness.tap(mover, data("su:wave:*"))
    registration = await Registration.get(person__telegram_id=mover.id)
    assert registration.online is False and registration.activity is None
    assert not await GroupMember.exists(
        registration=registration, status=MemberStatus.ACTIVE, group__table_id__not_isnull=True
    )
    # And back online: seated at a table again, with its link once more.
    introductions = sum(t.startswith("👋 Your table") for t in texts_of(mover))
    await harness.say(mover, "/me")
    await harness.tap(mover, "✏️ Coming")
    await harness.tap(mover, data("su:att:online"))
    await harness.tap(mover, data("su:act:any"))
    assert await GroupMember.exists(
        registration=registration, status=MemberStatus.ACTIVE, group__table_id__not_isnull=True
    )
    assert sum(t.startswith("👋 Your table") for t in texts_of(mover)) == introductions + 1


async def test_organizer_adds_a_table_in_telegram(harness: BotHarness, online_event) -> None:
    from companion_bot.models import OnlineTable

    event = online_event
    jo = harness.user(first_name="Jo", language_code="en")
    reply = await harness.say(jo, "/addtable Quiz 2; https://meet.jit.si/quiz2; 6; Quiz")
    assert "You organize no online or hybrid event" in reply.text
    await harness.say(jo, f"/start {event.organizer_code}")
    for bad, explanation in (
        ("Quiz 2; http//meet.jit.si/quiz2; 6", "is not a call link"),
        ("Quiz 2; https://meet.jit.si/quiz2; 0", "A table seats 2 to 50 people"),
        ("Quiz 2; https://meet.jit.si/quiz2; 500", "A table seats 2 to 50 people"),
        ("Papote; https://meet.jit.si/x; 4", "Two tables have the same name."),
    ):
        reply = await harness.say(jo, f"/addtable {bad}")
        assert explanation in reply.text
    reply = await harness.say(jo, "/addtable Quiz 2; https://meet.jit.si/quiz2; 6; Quiz")
    assert "Table Quiz 2 added to Soirée jeux." in reply.text
    assert await OnlineTable.filter(event=event).count() == 4


async def test_export_counts_online_tables(harness: BotHarness, online_event) -> None:
    from companion_bot.i18n import translator
    from companion_bot.services.export import event_csv

    event = online_event
    people = [harness.user(first_name=f"Amie{i}", language_code="en") for i in range(3)]
    for person in people:
        await sign_up_online(harness, person, event.attendee_code, activity="su:act:any")
    await harness.travel_to(event.doors_open)
    await harness.tap(people[0], "✅ We're in")
    csv_text = await event_csv(translator("en"), event)
    assert "Totals,,groups at online tables,1" in csv_text
    assert "Totals,,said they were in their table's call,1" in csv_text
    assert "Totals,,arrival groups,0" in csv_text
    assert "Departure," not in csv_text
    for person in people:
        assert str(person.id) not in csv_text and "Amie" not in csv_text


async def test_small_gathering_makes_a_pair_when_no_trio_is_possible(harness, db) -> None:
    from companion_bot.models import GroupKind

    event = await jam_session()
    pair = [harness.user(first_name=name, language_code="en") for name in ("Ana", "Bea")]
    for person, place in zip(pair, ("Ixelles", "Etterbeek"), strict=True):
        await sign_up(harness, person, event.attendee_code, destination=place)
    await harness.travel_to(event.doors_open - timedelta(minutes=30))
    group = await CompanionGroup.get(event=event, kind=GroupKind.ARRIVAL)
    assert await GroupMember.filter(group=group, status=MemberStatus.ACTIVE).count() == 2
    assert any("Your arrival group" in t and "Bea" in t for t in texts_of(pair[0]))


async def test_the_morning_after_asks_no_trip_home_online(harness: BotHarness, db) -> None:
    from companion_bot.models import FollowupAnswer
    from companion_bot.services.lifecycle import followup_time
    from tests.support import event_spec

    spec = event_spec(
        datetime.now(UTC) + timedelta(days=1),
        kind=EventKind.HYBRID,
        tables=[TableSpec("Stream", "https://meet.jit.si/stream", 6, None)],
    )
    event = await create_event(spec, None)
    nora = harness.user(first_name="Nora", language_code="en")
    await sign_up_online(harness, nora, event.attendee_code, activity=None, hybrid=True)
    ines = harness.user(first_name="Ines", language_code="en")
    await harness.say(ines, f"/start {event.attendee_code}")
    for step in ("su:lang:en", "su:charter:yes", "su:name:default", "su:att:person",
                 "su:arr:slot:*"):  # fmt: skip
        await harness.tap(ines, data(step))
    await harness.say(ines, "Oberkampf")
    for step in ("su:tr:transit", "su:wave:*", "su:sum:confirm"):
        await harness.tap(ines, data(step))
    await harness.travel_to(followup_time(event) + timedelta(minutes=1))

    assert any("Two quick questions" in t and "Did your table get together?" in t
               for t in texts_of(nora))  # fmt: skip
    before = len(nora.messages())
    reply = await harness.tap(nora, "Yes")
    assert reply.text == "Anything to report? Write it here, or tap a button."
    assert not any("get home" in t for t in texts_after(nora, before))
    await harness.tap(nora, "Nothing to report")
    assert "Thank you for your answers" in nora.last_text()
    answer = await FollowupAnswer.get(event=event)
    assert (answer.group_met, answer.home_safe) == ("yes", None)

    # In person at the same hybrid evening: the trip home is asked, as ever.
    assert any("Three quick questions" in t for t in texts_of(ines))
    reply = await harness.tap(ines, "Yes")
    assert reply.text == "Did you get home well?"
