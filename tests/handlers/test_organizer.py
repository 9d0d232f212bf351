"""Organizers: /newevent for admins, /myevents, and the co-organizer link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from companion_bot.models import DepartureWave, Event, Role, RoleKind
from tests.support import ADMIN_ID, BotHarness, data, sign_up, texts_after

BRUSSELS = ZoneInfo("Europe/Brussels")


def in_ten_days() -> str:
    return (datetime.now(UTC) + timedelta(days=10)).astimezone(BRUSSELS).strftime("%d/%m/%Y")


async def test_new_event_is_for_admins_only(harness: BotHarness) -> None:
    eve = harness.user(first_name="Eve", language_code="fr")
    reply = await harness.say(eve, "/newevent")
    assert "Seules les personnes qui administrent le bot" in reply.text
    reply = await harness.say(eve, "Ma soirée")
    assert "Je n'ai pas compris." in reply.text
    assert not await Event.exists()


async def test_admin_creates_an_event_step_by_step(harness: BotHarness) -> None:
    alex = harness.user(user_id=ADMIN_ID, first_name="Alex", language_code="en")
    reply = await harness.say(alex, "/newevent")
    assert "What is its name?" in reply.text
    await harness.say(alex, "Nuit du Kilowatt")
    reply = await harness.say(alex, "Le Kilowatt")
    assert "Where is the venue?" in reply.text
    reply = await harness.say(alex, "Ixelles")
    assert "Time zone of the event?" in reply.text
    reply = await harness.tap(alex, "Keep Europe/Brussels")
    assert "When do doors open?" in reply.text
    await harness.say(alex, f"{in_ten_days()} 22:00")
    reply = await harness.say(alex, "05:00")
    assert "Meeting points, one per line" in reply.text
    await harness.say(alex, "Entrance\nBar")
    reply = await harness.tap(alex, data("ne:default:slots"))
    assert "Departure times" in reply.text
    await harness.say(alex, "02:00, 05:00 @ Bar")
    await harness.tap(alex, "Keep 2 / 3–4 / 5")
    reply = await harness.tap(alex, "Use the standard charter")
    assert reply.text.startswith("The safe place, where someone who does not feel safe")
    reply = await harness.say(alex, "Welcome tent; behind the bar")
    assert "separated by semicolons" in reply.text
    reply = await harness.say(alex, "Welcome tent; behind the bar, left of the stage; 22:00–05:00")
    assert "How many days after closing should attendees' personal data be deleted?" in reply.text
    reply = await harness.tap(alex, "Keep 7 days")
    assert "Please check the event:" in reply.text
    for line in (
        "Nuit du Kilowatt — Le Kilowatt",
        "Time zone: Europe/Brussels",
        "Meeting points: Entrance, Bar",
        "Arrival slots: 22:00–23:00, 23:00–00:00, 00:00–01:00",
        "Departures: 02:00 (Entrance), 05:00 (Bar)",
        "Group sizes: 2 minimum, 3–4 preferred, 5 maximum",
        "Personal data deleted 7 days after closing",
        "🏠 Safe place: Welcome tent — behind the bar, left of the stage (22:00–05:00).",
        "I treat my companions with respect",
    ):
        assert line in reply.text, reply.text

    reply = await harness.tap(alex, "✅ Create the event")
    event = await Event.get(name="Nuit du Kilowatt")
    assert "Event created!" in reply.text
    bot = harness.emulator.default_bot.username
    assert f"https://t.me/{bot}?start={event.attendee_code}" in reply.text
    assert f"https://t.me/{bot}?start={event.volunteer_code}" in reply.text
    assert f"https://t.me/{bot}?start={event.organizer_code}" in reply.text
    assert event.timezone == "Europe/Brussels"
    assert abs(event.venue_lat - 50.83) < 0.05 and abs(event.venue_lon - 4.37) < 0.05
    assert event.doors_open.astimezone(BRUSSELS).hour == 22
    assert event.closing - event.doors_open == timedelta(hours=7)
    assert event.retention_days == 7
    assert (event.safe_place_name, event.safe_place_where, event.safe_place_hours) == (
        "Welcome tent",
        "behind the bar, left of the stage",
        "22:00–05:00",
    )
    waves = await DepartureWave.filter(event=event).prefetch_related("meeting_point")
    assert [(w.departs_at.astimezone(BRUSSELS).hour, w.meeting_point.name) for w in waves] == [
        (2, "Entrance"),
        (5, "Bar"),
    ]
    assert await Role.filter(event=event, person__telegram_id=ADMIN_ID,
                             kind=RoleKind.ORGANIZER).exists()  # fmt: skip


async def test_new_event_bad_input_is_explained_and_asked_again(harness: BotHarness) -> None:
    alex = harness.user(user_id=ADMIN_ID, first_name="Alex", language_code="fr")
    await harness.say(alex, "/newevent")
    before = len(alex.messages())
    await alex.send_sticker()
    await harness.settle()
    assert texts_after(alex, before)[0] == "Ici, je ne peux lire que du texte."
    await harness.say(alex, "Nuit test")
    await harness.say(alex, "La Station")

    before = len(alex.messages())
    await harness.say(alex, "Xyzzyville")
    assert "Je n'arrive pas à situer « Xyzzyville »" in texts_after(alex, before)[0]
    await alex.send_location(48.8649, 2.3800)
    await harness.settle()
    await harness.tap(alex, data("ne:default:timezone"))

    for impossible, explanation in (
        (f"{in_ten_days()} 25:99", "Je n'arrive pas à lire l'heure « 25:99 »"),
        ("31/02/2027 23:00", "Je n'arrive pas à lire la date « 31/02/2027 »"),
        ("01/01/2020 23:00", "c'est déjà passé"),
    ):
        before = len(alex.messages())
        await harness.say(alex, impossible)
        answer = texts_after(alex, before)
        assert explanation in answer[0], answer
        assert "Quand ouvrent les portes ?" in answer[-1], answer
    await harness.say(alex, f"{in_ten_days()} 23:00")

    # A default button of another step is stale here.
    before = len(alex.messages())
    await alex.tap_data(alex.last_message().message_id, "ne:default:sizes")
    await harness.settle()
    assert alex.callback_answers()[-1].text == "Ce bouton n'est plus actif."
    await harness.say(alex, "06:00")
    await harness.tap(alex, data("ne:default:points"))
    await harness.tap(alex, data("ne:default:slots"))
    before = len(alex.messages())
    await harness.say(alex, "03:00 @ Nulle part")
    unknown_point = "« Nulle part » ne fait pas partie des points de rendez-vous"
    assert unknown_point in texts_after(alex, before)[0]
    await harness.tap(alex, data("ne:default:waves"))
    before = len(alex.messages())
    await harness.say(alex, "5 4 3")
    assert "Les tailles de groupe" in texts_after(alex, before)[0]
    await harness.say(alex, "3 3-4 6")
    await harness.say(alex, "Respect, bienveillance, et on rentre ensemble.")
    before = len(alex.messages())
    await harness.say(alex, "Tente d'accueil")  # where and hours missing
    assert "séparés par des points-virgules" in texts_after(alex, before)[0]
    await harness.say(alex, "aucun")  # no safe place
    for impossible, explanation in (
        ("une semaine", "Écris un nombre de jours, comme 7."),
        ("365", "Garde les données personnelles entre 1 et 90 jours après la fermeture."),
    ):
        before = len(alex.messages())
        await harness.say(alex, impossible)
        assert texts_after(alex, before)[0] == explanation
    reply = await harness.say(alex, "2 jours")
    assert "Données personnelles effacées 2 jours après la fermeture" in reply.text
    reply = await harness.tap(alex, data("ne:create"))
    assert "Événement créé !" in reply.text
    event = await Event.get(name="Nuit test")
    assert (event.min_group_size, event.preferred_max_size, event.max_group_size) == (3, 4, 6)
    assert event.charter == "Respect, bienveillance, et on rentre ensemble."
    assert event.retention_days == 2
    assert event.venue_lat == 48.8649


async def test_my_events_lists_links_and_counts(harness: BotHarness, event) -> None:
    alex = harness.user(user_id=ADMIN_ID, first_name="Alex", language_code="en")
    reply = await harness.say(alex, "/myevents")
    assert reply.text == "You don't organize or volunteer at any event yet."

    await harness.say(alex, f"/start {event.organizer_code}")
    assert "You are now an organizer of Nuit Compagnonnes" in alex.last_text()
    for i in range(2):
        await sign_up(harness, harness.user(first_name=f"A{i}", language_code="en"),
                      event.attendee_code)  # fmt: skip
    drafting = harness.user(first_name="Draft", language_code="en")
    await harness.say(drafting, f"/start {event.attendee_code}")
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")

    reply = await harness.say(alex, "/myevents")
    assert "Nuit Compagnonnes" in reply.text
    assert "2 signed up, 1 signing up, 1 volunteer, 1 organizer" in reply.text
    assert f"?start={event.attendee_code}" in reply.text
    reply = await harness.say(volunteer, "/myevents")
    assert "Volunteer at Nuit Compagnonnes" in reply.text
    assert event.organizer_code not in reply.text
