"""Every journey on WhatsApp, end to end: a person writes through the WhatsApp emulator, its
signed webhook reaches the bot's web server, the bot answers through the Cloud API emulator;
Telegram people in the same night through the Telegram emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from companion_bot import clock, notices
from companion_bot.models import (
    Channel,
    DepartureWave,
    InboxUpdate,
    OutboxMessage,
    Person,
    Registration,
    RegistrationStatus,
    Transport,
)
from companion_bot.services import board, outbox
from companion_bot.web import create_app
from tests.handlers.test_board_commands import organizer_of, photo_bytes
from tests.handlers.test_groups import ALL_ANNOUNCED
from tests.handlers.test_relay import received, volunteer_on_duty
from tests.qr_decoding import decode_qr
from tests.support import sign_up
from tests.whatsapp.mixed import (
    WHATSAPP_NUMBER,
    MixedHarness,
    actions,
    offered,
    said_since,
    start_mixed_harness,
)


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
    assert "Quelle langue préfères-tu ? Tu pourras la changer plus tard avec « langue »." in reply
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


async def close_her_window(person) -> None:
    """As if she last wrote 25 hours ago. The groups are made at fixed times of the night,
    less than 24 hours after she signs up when the tests run late in the day: without this,
    whether her window is still open then would depend on the hour the tests run."""
    await Person.filter(whatsapp_id=person.wa_id).update(
        last_message_at=clock.now() - timedelta(hours=25)
    )


async def sign_up_on_whatsapp(mixed: MixedHarness, person, code: str, destination: str) -> None:
    """The happy path by actions, in whatever language she is spoken to."""
    await mixed.wa_say(person, code)
    await mixed.wa_tap(person, "su:lang:en")
    await mixed.wa_tap(person, "su:charter:yes")
    await mixed.wa_tap(person, "su:name:default")
    await mixed.wa_tap(person, "su:arr:slot:*")
    await mixed.wa_say(person, destination)
    await mixed.wa_tap(person, "su:tr:transit")
    await mixed.wa_tap(person, "su:wave:*")
    await mixed.wa_tap(person, "su:sum:confirm")


async def test_a_mixed_group_goes_through_the_night_together(mixed: MixedHarness, event) -> None:
    ada, bea = (mixed.user(first_name=name, language_code="en", username=f"{name.lower()}_tg")
                for name in ("Ada", "Bea"))  # fmt: skip
    await sign_up(mixed, ada, event.attendee_code, destination="Montreuil")
    await sign_up(mixed, bea, event.attendee_code, destination="Bagnolet")
    zoe = mixed.wa_user("Zoé", wa_id="447700900123")  # a UK number: spoken to in English
    await sign_up_on_whatsapp(mixed, zoe, event.attendee_code, "Vincennes")
    assert "You're signed up for *Nuit Compagnonnes*" in zoe.texts()[-1]

    # The groups are made after her 24-hour window has closed, so the introduction's
    # template comes; her answer brings the introduction itself.
    await close_her_window(zoe)
    await mixed.travel_to(ALL_ANNOUNCED(event))
    assert zoe.texts()[-1].startswith("Your group for Nuit Compagnonnes is ready.")
    assert zoe.last().kind == "template"
    introduction = await mixed.wa_say(zoe, "Show me")
    assert "*Ada*" in introduction and "*Bea*" in introduction
    assert any("Zoé" in text for text in received(ada))  # by her display name only

    # The relay, both ways, under display names only.
    await mixed.wa_say(zoe, "I'm at the bar, red scarf")
    await mixed.drain()
    assert "Zoé: I'm at the bar, red scarf" in received(ada)
    assert "Zoé: I'm at the bar, red scarf" in received(bea)
    await mixed.say(ada, "Coming!")
    await mixed.drain()
    assert "*Ada*: Coming!" in zoe.texts()
    for call in mixed.emulator.calls():
        assert zoe.wa_id not in str(call.params)  # her number never reaches Telegram
    for message in zoe.messages():
        assert "ada_tg" not in message.text and str(ada.id) not in message.text

    # Help from WhatsApp, claimed by a volunteer on Telegram.
    vic = await volunteer_on_duty(mixed, event)
    levels = await mixed.wa_say(zoe, "help")
    assert "What is happening?" in levels
    await mixed.wa_tap(zoe, "hp:lvl:uncomfortable")
    sent = await mixed.wa_tap(zoe, "hp:yes:*")
    assert "Alert sent to 1 volunteer on duty." in sent
    await mixed.drain()
    assert any("Zoé" in text for text in received(vic))
    await mixed.tap(vic, "🙋 I'm on it")
    await mixed.drain()
    assert any("Vic, a volunteer, is on the way to you" in text for text in zoe.texts())
    closed = await mixed.wa_tap(zoe, "hp:close:*")
    assert "Your help request is closed" in closed

    # Home: the reminder after the departure, and her tap on WhatsApp.
    wave = await DepartureWave.filter(event=event).order_by("departs_at").first()
    await mixed.travel_to(wave.departs_at - timedelta(minutes=15))
    # The night's start: "I need help" is a button under the message (no keyboard stays
    # under a WhatsApp chat), and it answers.
    night = next(m for m in zoe.messages() if "is tonight" in m.text)
    assert "tap “🆘 I need help”" in night.text and actions(zoe, night) == ["wm:help"]
    assert "What is happening?" in await mixed.wa_tap(zoe, "wm:help")
    reminder = next(m for m in zoe.messages() if "Your departure leaves at" in m.text)
    assert "cl:at:*"[:-1] in "".join(actions(zoe, reminder))
    await mixed.wa_tap(zoe, "cl:gone:*")
    await mixed.travel_to(wave.departs_at + timedelta(minutes=46))
    assert any(text.startswith("Did you get home safely?") for text in zoe.texts())
    home = await mixed.wa_tap(zoe, "cl:home:*")
    assert "Glad you are home" in home
    await mixed.drain()
    assert "🏠 Zoé is home." in received(ada)


async def test_one_template_stands_for_both_of_her_groups(mixed: MixedHarness, event) -> None:
    ada = mixed.user(first_name="Ada", language_code="fr")
    await sign_up(mixed, ada, event.attendee_code, destination="Montreuil")
    zoe = mixed.wa_user("Zoé", wa_id="33612345678")
    await sign_up_on_whatsapp(mixed, zoe, event.attendee_code, "Vincennes")
    await close_her_window(zoe)
    await mixed.travel_to(ALL_ANNOUNCED(event))
    templates = [m for m in zoe.messages() if m.kind == "template"]
    assert len(templates) == 1 and templates[0].text.startswith("Your group for Nuit")
    before = len(zoe.messages())
    await mixed.wa_say(zoe, "ok")
    introductions = said_since(zoe, before)
    assert "Your arrival group" in introductions and "Your departure group" in introductions
    assert "*Ada*" in introductions


async def test_bad_input_at_every_step_is_answered_and_nothing_is_lost(
    mixed: MixedHarness, event
) -> None:
    zoe = mixed.wa_user("Zoé", wa_id="33698765432")
    assert "Pour t'inscrire, ouvre le lien" in await mixed.wa_say(zoe, "salut ça va")
    await mixed.wa_say(zoe, event.attendee_code)
    # Words, a sticker, a photo where a choice is expected: explained, asked again.
    for sending in (zoe.send_text("euh"), zoe.send_sticker(), zoe.send_image("moi")):
        answer = await mixed.wa_send(zoe, sending)
        assert "réponds avec un des boutons" in answer.lower()
        assert "Quelle langue préfères-tu" in answer
    # A button id she did not get (forged), and one made for someone else (replayed).
    answer = await mixed.wa_send(zoe, zoe.reply("su:lang:en~AAAAAAAAAA", "English"))
    assert "Ce bouton n'est plus actif." in answer and "Quelle langue" in answer
    ines = mixed.wa_user("Inès", wa_id="33611111111")
    await mixed.wa_say(ines, event.attendee_code)
    foreign, choice_id, title = offered(ines, "su:lang:en")
    answer = await mixed.wa_send(zoe, zoe.reply(choice_id, title, foreign))
    assert "Ce bouton n'est plus actif." in answer
    person = await Person.get(whatsapp_id=zoe.wa_id)
    assert person.language == "fr"  # neither changed her language
    await mixed.wa_tap(zoe, "su:lang:fr")
    # A button of an earlier question: stale, the current question again.
    answer = await mixed.wa_tap(zoe, "su:lang:nl")
    assert "Ce bouton n'est plus actif." in answer and "charte" in answer
    await mixed.wa_tap(zoe, "su:charter:yes")
    # A name that would give her away is refused, with why.
    answer = await mixed.wa_say(zoe, "Zoé 06 12 34 56 78")
    assert "numéro de téléphone" in answer and "Quel nom" in answer
    answer = await mixed.wa_send(zoe, zoe.send_sticker())
    assert "Ici, je ne peux lire que du texte." in answer
    await mixed.wa_say(zoe, "Zozo")
    await mixed.wa_tap(zoe, "su:arr:here")
    answer = await mixed.wa_say(zoe, "Xqzwvk")
    assert "Je ne connais pas « Xqzwvk »" in answer
    # A location pin answers it too, and only the neighbourhood is kept.
    answer = await mixed.wa_send(zoe, zoe.send_location(48.8530, 2.3690))
    assert "📍" in answer and "le point exact n'est pas gardé" in answer
    registration = await registration_of(zoe.wa_id)
    assert registration.destination_place_id and registration.transport is None
    assert (await Person.get(whatsapp_id=zoe.wa_id)).display_name == "Zozo"


async def test_the_team_links_stay_on_telegram(mixed: MixedHarness, event) -> None:
    zoe = mixed.wa_user("Zoé", wa_id="33698765432")
    answer = await mixed.wa_say(zoe, event.volunteer_code)
    assert "l'équipe" in answer and "Telegram" in answer
    assert not await Registration.exists(person__whatsapp_id=zoe.wa_id)


async def test_a_forged_webhook_post_is_refused_and_nothing_is_stored(
    mixed: MixedHarness, event
) -> None:
    zoe = mixed.wa_user("Zoé", wa_id="33698765432")
    honest = await zoe.send_text(event.attendee_code)
    await mixed.settle()
    before = await InboxUpdate.filter(channel="whatsapp").count()
    forged = honest.body.replace(event.attendee_code.encode(), b"forget")
    for signature in (None, honest.signature, "sha256=" + "0" * 64):
        post = await mixed.meta.post_raw(forged, signature)
        assert post.status == 403
    assert await InboxUpdate.filter(channel="whatsapp").count() == before
    assert await Person.exists(whatsapp_id=zoe.wa_id)


async def test_forget_from_whatsapp_deletes_her_and_her_group_only_hears_someone_left(
    mixed: MixedHarness, event
) -> None:
    ada = mixed.user(first_name="Ada", language_code="en")
    await sign_up(mixed, ada, event.attendee_code, destination="Montreuil")
    zoe = mixed.wa_user("Zoé", wa_id="447700900123")
    await sign_up_on_whatsapp(mixed, zoe, event.attendee_code, "Vincennes")
    await mixed.travel_to(ALL_ANNOUNCED(event))
    await mixed.wa_say(zoe, "ok")
    told_before = len(received(ada))
    answer = await mixed.wa_say(zoe, "forget")
    assert "Delete everything this bot keeps about you?" in answer
    done = await mixed.wa_tap(zoe, "fg:yes")
    assert "everything about you is deleted" in done
    await mixed.drain()
    assert not await Person.exists(whatsapp_id=zoe.wa_id)
    assert not await Registration.exists(person__whatsapp_id=zoe.wa_id)
    assert not await OutboxMessage.filter(channel="whatsapp").exists()
    assert not await InboxUpdate.filter(key=zoe.wa_id).exclude(payload=None).exists()
    told = received(ada)[told_before:]
    assert any("too small now" in text for text in told)  # a group of two: it dissolves
    assert not any("Zoé" in text for text in told)


async def test_what_whatsapp_cannot_show_fails_with_its_reason(mixed: MixedHarness, event):
    zoe = mixed.wa_user("Zoé", wa_id="447700900123")
    await sign_up_on_whatsapp(mixed, zoe, event.attendee_code, "Vincennes")
    person = await Person.get(whatsapp_id=zoe.wa_id)
    received_before = len(zoe.messages())
    document = await outbox.enqueue(
        person, kind=notices.DOCUMENT, payload={"document": "x", "filename": "a.csv"}
    )
    legacy = await OutboxMessage.create(  # a Bot API call queued before notices existed
        channel=Channel.WHATSAPP, chat_id=person.id, method="sendMessage",
        payload={"text": "x"}, not_before=mixed.meta.now(),
    )  # fmt: skip
    await mixed.settle()
    for row in (document, legacy):
        await row.refresh_from_db()
        assert row.status == "failed" and "not a notice WhatsApp can show" in row.error
    assert len(zoe.messages()) == received_before


async def test_nothing_free_form_goes_outside_her_window(mixed: MixedHarness, event) -> None:
    orga = await organizer_of(mixed, event)
    zoe = mixed.wa_user("Zoé", wa_id="447700900123")
    await sign_up_on_whatsapp(mixed, zoe, event.attendee_code, "Vincennes")
    person = await Person.get(whatsapp_id=zoe.wa_id)
    clock_now = mixed.meta.now()
    await Person.filter(id=person.id).update(last_message_at=clock_now - timedelta(hours=30))
    received_before = len(zoe.messages())
    row = await outbox.enqueue(person, "A message with no template")
    await mixed.settle()
    await row.refresh_from_db()
    assert row.status == "failed" and "24-hour window" in row.error
    assert len(zoe.messages()) == received_before
    assert not [r for r in mixed.meta.requests if r.status >= 400]  # Meta refused nothing
    await mixed.drain()
    assert "⚠️ A message to Zoé on WhatsApp could not be sent" in orga.last_message().text


async def test_organizers_get_the_whatsapp_link_and_its_qr_code(mixed: MixedHarness, event):
    orga = await organizer_of(mixed, event)
    listed = await mixed.say(orga, "/myevents")
    link = f"https://wa.me/{WHATSAPP_NUMBER}?text={event.attendee_code}"
    assert f"Attendees on WhatsApp: {link}" in listed.text
    before = len(orga.messages())
    await mixed.say(orga, "/qr")
    photos = orga.messages()[before:]
    assert len(photos) == 3
    assert decode_qr(photo_bytes(mixed, photos[2])) == link
    assert photos[2].caption.startswith("💬 Attendees' WhatsApp QR code for Nuit Compagnonnes")
    # What the link types in her box starts her sign-up.
    zoe = mixed.wa_user("Zoé", wa_id="447700900123")
    assert "Which language do you prefer?" in await mixed.wa_say(zoe, event.attendee_code)


async def test_the_live_board_shows_the_whatsapp_qr_code(mixed: MixedHarness, event) -> None:
    token = await board.board_token(event)
    link = f"https://wa.me/{WHATSAPP_NUMBER}?text={event.attendee_code}"
    async with TestClient(TestServer(create_app(mixed.application, mixed.settings))) as client:
        page = await (await client.get(f"/board/{token}", params={"lang": "fr"})).text()
        assert f'src="{token}/qr/whatsapp.png"' in page
        assert "Participantes sur WhatsApp : pour le flyer" in page
        response = await client.get(f"/board/{token}/qr/whatsapp.png")
        assert response.status == 200 and response.content_type == "image/png"
        assert decode_qr(await response.read()) == link
    # Without a WhatsApp number, neither the figure nor the picture.
    settings = mixed.settings.model_copy(update={"WHATSAPP_NUMBER": None})
    async with TestClient(TestServer(create_app(mixed.application, settings))) as client:
        assert "qr/whatsapp.png" not in await (await client.get(f"/board/{token}")).text()
        assert (await client.get(f"/board/{token}/qr/whatsapp.png")).status == 404


async def test_she_sees_and_changes_her_answers_with_a_word(mixed: MixedHarness, event) -> None:
    zoe = mixed.wa_user("Zoé", wa_id="447700900123")
    await sign_up_on_whatsapp(mixed, zoe, event.attendee_code, "Vincennes")
    summary = await mixed.wa_say(zoe, "me")
    assert "You are signed up." in summary and "Vincennes" in summary
    assert "su:edit:destination" in actions(zoe)
    await mixed.wa_tap(zoe, "su:edit:destination")
    answer = await mixed.wa_say(zoe, "Montreuil")
    assert "📍 Montreuil" in answer and "You are signed up." in answer
    registration = await registration_of(zoe.wa_id)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert "montreuil" in registration.destination_place_id
    menu = await mixed.wa_say(zoe, "MENU")
    assert "“help”, “me”, “group”" in menu
    assert actions(zoe) == ["wm:me", "wm:group", "wm:help", "wm:language", "wm:forget"]
    assert "not in a group right now" in await mixed.wa_tap(zoe, "wm:group")
    await mixed.wa_tap(zoe, "wm:language")
    assert "Je te parlerai en français." in await mixed.wa_tap(zoe, "wl:fr")
