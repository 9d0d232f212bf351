"""Every journey on WhatsApp, end to end: a person writes through the WhatsApp emulator, its
signed webhook reaches the bot's web server, the bot answers through the Cloud API emulator;
Telegram people in the same night through the Telegram emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from companion_bot.models import Channel, Person, Registration, RegistrationStatus, Transport
from tests.whatsapp.mixed import MixedHarness, actions, start_mixed_harness


@pytest_asyncio.fixture
async def mixed(db: str) -> AsyncIterator[MixedHarness]:
    async with start_mixed_harness(db) as running:
        yield running


async def registration_of(wa_id: str) -> Registration | None:
    return await Registration.get_or_none(person__whatsapp_id=wa_id).prefetch_related(
        "person", "arrival_slot", "departure_wave"
    )


async def test_sign_up_on_whatsapp_in_french(mixed: MixedHarness, event) -> None:
    zoe = mixed.wa_user("Zoé", wa_id="33612345678")
    reply = await mixed.wa_say(zoe, event.attendee_code)
    assert "Quelle langue préfères-tu" in reply
    assert actions(zoe) == ["su:lang:fr", "su:lang:en", "su:lang:nl"]
    reply = await mixed.wa_tap(zoe, "su:lang:fr")
    assert "Bienvenue" in reply and "charte" in reply
    reply = await mixed.wa_tap(zoe, "su:charter:yes")
    assert "Quel nom" in reply
    reply = await mixed.wa_tap(zoe, "su:name:default")  # her WhatsApp profile name
    assert "arriver" in reply
    reply = await mixed.wa_tap(zoe, "su:arr:slot:*")
    assert "Où vas-tu après" in reply
    reply = await mixed.wa_say(zoe, "Oberkampf")
    assert "Comment rentres-tu" in reply
    reply = await mixed.wa_tap(zoe, "su:tr:transit")
    reply = await mixed.wa_tap(zoe, "su:wave:*")
    assert "Vérifie et confirme" in reply
    reply = await mixed.wa_tap(zoe, "su:sum:confirm")
    assert "Ton inscription est enregistrée" in reply and "« aide »" in reply
    registration = await registration_of(zoe.wa_id)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.transport == Transport.TRANSIT
    person = await Person.get(whatsapp_id=zoe.wa_id)
    assert (person.channel, person.telegram_id, person.display_name) == (
        Channel.WHATSAPP,
        None,
        "Zoé",
    )
    # Nothing of her number in what the bot sent anyone, nor in the outbox's rows.
    assert all(zoe.wa_id not in message.text for message in zoe.messages())
