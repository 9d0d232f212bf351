"""The volunteers' group cards stay true: every card sent for a departure group (at its wave's
reminder, and on /waves) is edited when a member reaches the meeting point, leaves, gets home,
is asked for, joins or leaves the group, and when the group is confirmed gone (who confirmed
it, no more buttons). Edits go through the outbox: coalesced (the last state wins), at most one
per card every few seconds, never past Telegram's limit of a message a second per chat."""

from __future__ import annotations

from datetime import timedelta

from companion_bot import clock
from companion_bot.emulator import Limits, StoredMessage
from companion_bot.models import (
    CompanionGroup,
    DepartureWave,
    GroupKind,
    GroupMember,
    MemberStatus,
    OutboxMessage,
    OutboxStatus,
    Registration,
)
from companion_bot.services import closing
from companion_bot.services.closing import CARD_EDIT_INTERVAL
from companion_bot.services.groups import cards_of
from companion_bot.workers import get_workers
from tests.handlers.test_groups import ALL_ANNOUNCED
from tests.handlers.test_relay import volunteer_on_duty
from tests.support import BotHarness, data, sign_up


async def cards_caught_up(harness: BotHarness) -> None:
    """Everything done, and the cards' pacing waited out: each card shows the last state."""
    await harness.drain()
    await harness.travel_to(clock.now() + CARD_EDIT_INTERVAL)


def card_with(volunteer, name: str) -> StoredMessage:
    """Her latest card of the group `name` is in (the object follows later edits)."""
    return next(m for m in reversed(volunteer.messages()) if f"{name} —" in (m.text or ""))


async def a_group_of_three(harness: BotHarness, event):
    """Ada, Bea and Cleo, heading the same way: one departure group at 03:00, announced."""
    people = []
    for name in ("Ada", "Bea", "Cleo"):
        person = harness.user(first_name=name, language_code="en")
        await sign_up(harness, person, event.attendee_code, destination="Montreuil")
        people.append(person)
    await harness.travel_to(ALL_ANNOUNCED(event))
    assert len({(await departure_group(person)).id for person in people}) == 1
    return people


async def departure_group(person) -> CompanionGroup:
    membership = await GroupMember.get(
        registration__person__telegram_id=person.id,
        status=MemberStatus.ACTIVE,
        group__kind=GroupKind.DEPARTURE,
    ).prefetch_related("group")
    return membership.group


async def reminder_time(event):
    first = await DepartureWave.filter(event=event).order_by("departs_at").first()
    return first.departs_at - timedelta(minutes=15)


async def test_a_card_follows_its_group_to_the_door_and_home(harness: BotHarness, event):
    vic = await volunteer_on_duty(harness, event, "Vic")
    val = harness.user(first_name="Val", language_code="fr")  # her cards are in French
    await harness.say(val, f"/start {event.volunteer_code}")
    await harness.say(val, "/duty")
    await harness.tap(val, lambda b: b.text.startswith("Prendre"))
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.travel_to(await reminder_time(event))
    card, carte = card_with(vic, "Ada"), card_with(val, "Ada")
    assert "⏳ Ada — not there yet" in card.text and card.inline_buttons()
    assert "⏳ Ada — pas encore là" in carte.text

    # Two of them at the meeting point: both volunteers see it.
    for person in (ada, bea):
        reply = await harness.tap(person, "📍 I'm at the meeting point")
        assert "the volunteers can see you are at the meeting point" in reply.text
    await cards_caught_up(harness)
    assert "✅ Ada — at the meeting point" in card.text
    assert "✅ Bea — at the meeting point" in card.text
    assert "⏳ Cleo — not there yet" in card.text
    assert "✅ Bea — au point de rendez-vous" in carte.text

    # Cleo is asked for, then says she has already left.
    await harness.tap(vic, "❓ Someone is missing", message=card)
    await harness.tap(vic, "Cleo")
    await cards_caught_up(harness)
    assert "❓ Cleo — asked where she is" in card.text
    assert "❓ Cleo — on lui a demandé où elle est" in carte.text
    await harness.tap(cleo, "🚪 I've already left")
    await cards_caught_up(harness)
    assert "🚶 Cleo — left" in card.text

    # Val confirms the group has left: Vic's card says who, and offers nothing more to tap.
    await harness.tap(val, "✅ Le groupe est parti", message=carte)
    assert val.callback_answers()[-1].text.startswith("✅ C'est noté : le groupe est parti.")
    await cards_caught_up(harness)
    assert "confirmed by Val" in card.text and not card.inline_buttons()
    assert "🚶 Ada — left" in card.text
    assert "confirmé par Val" in carte.text and not carte.inline_buttons()
    # A button of Vic's still on screen before the edit (a slow phone) is answered.
    await vic.tap_data(card.message_id, card.previous_versions[0]["reply_markup"]
                       ["inline_keyboard"][0][0]["callback_data"])  # fmt: skip
    await harness.settle()
    assert vic.callback_answers()[-1].text == "Already confirmed by Val."

    await harness.tap(ada, "🏠 I'm home")
    await cards_caught_up(harness)
    assert "🏠 Ada — home" in card.text and "🏠 Ada — rentrée" in carte.text
    assert "🚶 Bea — left" in card.text


async def test_a_card_shows_who_joins_and_who_leaves_the_group(harness: BotHarness, event):
    vic = await volunteer_on_duty(harness, event, "Vic")
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.say(vic, "/waves")
    await harness.drain()
    card = card_with(vic, "Ada")
    group = await departure_group(ada)

    # A late sign-up joins the announced group.
    dee = harness.user(first_name="Dee", language_code="en")
    await sign_up(harness, dee, event.attendee_code, destination="Montreuil")
    assert (await departure_group(dee)).id == group.id
    await cards_caught_up(harness)
    assert "⏳ Dee — not there yet" in card.text

    # She cancels; at the reminder, Cleo leaves later: the card is down to Ada and Bea.
    await harness.say(dee, "/leave")
    await harness.tap(dee, data("leave:*"))
    await harness.tap(dee, data("leave:yes:*"))
    await cards_caught_up(harness)
    assert "Dee" not in card.text and "Cleo —" in card.text
    await harness.travel_to(await reminder_time(event))
    await harness.tap(cleo, "⏰ I'm leaving later")
    await cards_caught_up(harness)
    assert "Cleo" not in card.text and "Ada —" in card.text and "Bea —" in card.text
    assert card.inline_buttons()

    # Bea cancels too: alone, Ada is matched again, and the card says the group is no more.
    await harness.say(bea, "/leave")
    await harness.tap(bea, data("leave:*"))
    await harness.tap(bea, data("leave:yes:*"))
    await cards_caught_up(harness)
    assert "this group is dissolved" in card.text and not card.inline_buttons()
    assert "Ada —" not in card.text


async def test_many_changes_make_few_edits_paced_within_the_chat_limit(harness: BotHarness, event):
    vic = await volunteer_on_duty(harness, event, "Vic")
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.travel_to(await reminder_time(event))
    await harness.say(vic, "/waves")  # a second card of the same group
    await harness.drain()
    cards = [m for m in vic.messages() if "Ada —" in (m.text or "")]
    assert len(cards) == 2
    # From now on, as on Telegram: one message (or edit) a second per chat.
    harness.emulator.set_limits(Limits(per_chat_per_second=1, per_chat_burst=3))
    get_workers(harness.application).outbox.per_chat_interval = 1.0
    group = await departure_group(ada)
    ids = {
        person.id: (await Registration.get(person__telegram_id=person.id)).id
        for person in (ada, bea, cleo)
    }

    # The door gets busy: seven changes in a row (as the attendees' taps make them).
    await closing.at_meeting_point(ada.id, ids[ada.id])
    await closing.at_meeting_point(bea.id, ids[bea.id])
    await closing.flag_missing(vic.id, group.id, ids[cleo.id])
    await closing.on_my_way(cleo.id, ids[cleo.id])
    await closing.at_meeting_point(cleo.id, ids[cleo.id])
    await closing.already_left(ada.id, ids[ada.id])
    await closing.home(ada.id, ids[ada.id])
    await cards_caught_up(harness)

    for card in cards:
        assert card.text.splitlines()[1:] == [
            "🏠 Ada — home", "✅ Bea — at the meeting point", "✅ Cleo — at the meeting point",
        ]  # fmt: skip
        assert 1 <= len(card.previous_versions) <= 2  # seven changes, at most two edits
    assert harness.emulator.stats.rate_limited[vic.id] == 0  # never past the chat's limit
    # Each card's edits, in the bot's time: the second one waited its turn.
    card_rows = await OutboxMessage.filter(coalesce_key__startswith=cards_of(group.id))
    for row in card_rows:
        sent = await OutboxMessage.filter(edit_of_id=row.id, status=OutboxStatus.SENT).order_by(
            "id"
        )
        assert 1 <= len(sent) <= 2
        if len(sent) == 2:
            assert sent[1].sent_at - sent[0].sent_at >= CARD_EDIT_INTERVAL
