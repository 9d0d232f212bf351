"""Drivers who offer seats, at sign-up: a driver says whether she can take companions home and
how many seats (buttons, or a number typed); bad counts get a clear answer and the question
again; leaving the car (or the departure group) forgets her offer; `/me` shows and edits it."""

from __future__ import annotations

import pytest

from companion_bot.models import Registration, Transport
from companion_bot.services import registrations
from companion_bot.services.errors import UserInputError
from tests.handlers.test_signup import reach_destination_step
from tests.support import BotHarness, data, sign_up, texts_after


async def seats_of(person) -> int | None:
    registration = await Registration.get(person__telegram_id=person.id)
    return registration.seats_offered


async def reach_seats_step(harness: BotHarness, person, event) -> None:
    await reach_destination_step(harness, person, event)
    await harness.say(person, "Montreuil")
    reply = await harness.tap(person, data("su:tr:car"))
    assert "Can you drive companions home?" in reply.text
    assert [b.text for b in person.inline_buttons()] == [
        "1", "2", "3", "4", "No seat: I drive alone",
    ]  # fmt: skip


async def test_a_driver_offers_seats(harness: BotHarness, event) -> None:
    dora = harness.user(first_name="Dora", language_code="en")
    await reach_seats_step(harness, dora, event)

    reply = await harness.tap(dora, "3")
    assert "Which departure time suits you?" in reply.text
    reply = await harness.tap(dora, data("su:wave:*"))
    assert "Transport: 🚗 Car" in reply.text
    assert "Seats: 3 seats for companions" in reply.text
    assert "✏️ Seats" in [b.text for b in dora.inline_buttons()]
    await harness.tap(dora, data("su:sum:confirm"))
    assert await seats_of(dora) == 3


async def test_a_driver_alone_and_a_typed_count(harness: BotHarness, event) -> None:
    eva = harness.user(first_name="Eva", language_code="en")
    await reach_seats_step(harness, eva, event)
    await harness.tap(eva, "No seat: I drive alone")
    reply = await harness.tap(eva, data("su:wave:*"))
    assert "Seats: none, I drive alone" in reply.text
    assert await seats_of(eva) == 0

    # /me: her offer is edited by typing a number.
    await harness.tap(eva, data("su:sum:confirm"))
    await harness.say(eva, "/me")
    reply = await harness.tap(eva, data("su:edit:seats"))
    assert "Can you drive companions home?" in reply.text
    reply = await harness.say(eva, " 2 ")
    assert "Seats: 2 seats for companions" in reply.text
    assert await seats_of(eva) == 2


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("0", "0 seats means you drive alone: tap “No seat: I drive alone” for that"),
        ("9", "At most 8 seats, please."),
        ("two", "Please type a number of seats from 1 to 8, or tap a button."),
        ("-1", "Please type a number of seats from 1 to 8, or tap a button."),
    ],
)
async def test_bad_counts_are_answered_and_asked_again(
    harness: BotHarness, event, typed, answer
) -> None:
    fay = harness.user(first_name="Fay", language_code="en")
    await reach_seats_step(harness, fay, event)
    before = len(fay.messages())
    reply = await harness.say(fay, typed)
    said = texts_after(fay, before)
    assert any(answer in text for text in said), said
    assert "Can you drive companions home?" in reply.text  # the question again, buttons on it
    assert await seats_of(fay) is None

    await fay.send_sticker()
    await harness.settle()
    assert "Please answer with one of the buttons below." in texts_after(fay, before)[-2]
    reply = await harness.tap(fay, "1")
    assert "Which departure time suits you?" in reply.text
    assert await seats_of(fay) == 1


async def test_leaving_the_car_forgets_the_offer(harness: BotHarness, event) -> None:
    gia = harness.user(first_name="Gia", language_code="en")
    await reach_seats_step(harness, gia, event)
    await harness.tap(gia, "2")
    await harness.tap(gia, data("su:wave:*"))
    await harness.tap(gia, data("su:sum:confirm"))
    seats_question = next(
        m for m in reversed(gia.messages()) if "Can you drive companions home?" in (m.text or "")
    )

    await harness.say(gia, "/me")
    await harness.tap(gia, data("su:edit:transport"))
    reply = await harness.tap(gia, data("su:tr:transit"))
    assert "Seats:" not in reply.text
    assert "✏️ Seats" not in [b.text for b in gia.inline_buttons()]
    assert await seats_of(gia) is None

    # The old question's button, forged back: refused, nothing changes.
    await gia.tap_data(seats_question.message_id, "su:seats:4")
    await harness.settle()
    assert gia.callback_answers()[-1].text == "This button is no longer active."
    assert await seats_of(gia) is None

    # No departure group at all: the service refuses seats with a reason.
    registration = await Registration.get(person__telegram_id=gia.id)
    await registrations.save_destination(registration, None)
    with pytest.raises(UserInputError) as refused:
        await registrations.set_seats(registration, 2)
    assert "you chose none" in refused.value.message
    registration.transport = Transport.CAR
    with pytest.raises(UserInputError):
        await registrations.set_seats(registration, 2)


async def test_in_french(harness: BotHarness, event) -> None:
    lou = harness.user(first_name="Lou", language_code="fr")
    await harness.say(lou, f"/start {event.attendee_code}")
    for step in ("su:lang:fr", "su:charter:yes", "su:name:default", "su:arr:slot:*"):
        await harness.tap(lou, data(step))
    await harness.say(lou, "Montreuil")
    reply = await harness.tap(lou, data("su:tr:car"))
    assert "Peux-tu raccompagner des compagnonnes en voiture ?" in reply.text
    reply = await harness.say(lou, "12")
    assert "8 places au maximum" in texts_after(lou, len(lou.messages()) - 2)[0]
    await harness.tap(lou, "4")
    reply = await harness.tap(lou, data("su:wave:*"))
    assert "Places : 4 places pour des compagnonnes" in reply.text


# -- in her departure group ----------------------------------------------------------------------


async def sign_up_driving(harness: BotHarness, person, event, destination: str, seats: int):
    await reach_destination_step(harness, person, event)
    await harness.say(person, destination)
    await harness.tap(person, data("su:tr:car"))
    await harness.tap(person, data(f"su:seats:{seats}"))
    await harness.tap(person, data("su:wave:*"))
    await harness.tap(person, data("su:sum:confirm"))


def introduction(person) -> str:
    return next(
        m.text for m in reversed(person.messages())
        if (m.text or "").startswith("🌙 Your departure group")
    )  # fmt: skip


async def test_a_driver_takes_companions_heading_her_way_home(harness: BotHarness, event):
    from tests.handlers.test_groups import ALL_ANNOUNCED

    ada, bea = (harness.user(first_name=name, language_code="en") for name in ("Ada", "Bea"))
    for person, place in ((ada, "Bagnolet"), (bea, "Bagnolet")):
        await sign_up(harness, person, event.attendee_code, destination=place)
    dora = harness.user(first_name="Dora", language_code="en")
    await sign_up_driving(harness, dora, event, "Montreuil", seats=3)
    await harness.travel_to(ALL_ANNOUNCED(event))
    await harness.drain()

    told = introduction(dora)
    assert "🚗 You drive: you take " in told and "and you are dropped last." in told
    assert "<b>" not in told  # names in bold as Telegram shows them, never markup
    assert "Ada" in told and "Bea" in told
    assert told.rstrip(".").endswith(", then you")
    for rider in (ada, bea):
        told = introduction(rider)
        assert "🚗 Dora drives and takes the group home; she is dropped last." in told
        assert "On the way home, you part in this order: " in told
        assert told.rstrip(".").endswith(", then Dora") and "you" in told.split("order: ")[1]


async def test_drivers_without_seats_only_walk_to_the_car_park(harness: BotHarness, event):
    from tests.handlers.test_groups import ALL_ANNOUNCED

    drivers = [harness.user(first_name=name, language_code="en") for name in ("Eva", "Fay")]
    for person in drivers:
        await sign_up_driving(harness, person, event, "Montreuil", seats=0)
    await harness.travel_to(ALL_ANNOUNCED(event))
    await harness.drain()
    for person in drivers:
        told = introduction(person)
        assert "walk together to the car park, then each takes her car." in told
        assert "you part in this order" not in told
