"""Photos, voice notes and documents relayed between Telegram and WhatsApp members of one
group, end to end through both emulators: the bytes that arrive are the bytes sent, under
the sender's display name only; what cannot be passed on is said in words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio

from companion_bot import notices
from companion_bot.media import FETCH_ATTEMPTS
from companion_bot.models import OutboxMessage, Person
from companion_bot.workers import get_workers
from tests.handlers.test_board_commands import document_bytes, photo_bytes
from tests.handlers.test_groups import ALL_ANNOUNCED
from tests.handlers.test_relay import received
from tests.support import sign_up
from tests.whatsapp.mixed import MixedHarness, start_mixed_harness
from tests.whatsapp.test_journeys import sign_up_on_whatsapp

PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40 + b"\xff\xd9"


@pytest_asyncio.fixture
async def mixed(db: str) -> AsyncIterator[MixedHarness]:
    async with start_mixed_harness(db) as running:
        yield running


async def a_mixed_group(mixed: MixedHarness, event):
    """Ada on Telegram, Zoé and Inès on WhatsApp, in one group; the WhatsApp members have
    answered its introduction, so their 24-hour windows are open."""
    ada = mixed.user(first_name="Ada", language_code="en", username="ada_tg")
    await sign_up(mixed, ada, event.attendee_code, destination="Montreuil")
    zoe = mixed.wa_user("Zoé", wa_id="447700900123")
    ines = mixed.wa_user("Inès", wa_id="447700900456")
    for person, destination in ((zoe, "Vincennes"), (ines, "Bagnolet")):
        await sign_up_on_whatsapp(mixed, person, event.attendee_code, destination)
    await mixed.travel_to(ALL_ANNOUNCED(event))
    for person in (zoe, ines):
        await mixed.wa_say(person, "Show me")
    await mixed.drain()
    return ada, zoe, ines


def telegram_photos(person) -> list:
    return [m for m in person.messages() if m.data.get("photo")]


async def test_a_whatsapp_photo_reaches_every_member_with_its_bytes(
    mixed: MixedHarness, event
) -> None:
    ada, zoe, ines = await a_mixed_group(mixed, event)
    post = await zoe.send_image("our spot", content=PHOTO)
    sent_id = post.payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
    await mixed.drain()
    # Ada on Telegram: a photo with the same bytes, under Zoé's display name only.
    [photo] = telegram_photos(ada)
    assert photo.caption == "Zoé: our spot"
    assert photo_bytes(mixed, photo) == PHOTO
    assert zoe.wa_id not in str([call.params for call in mixed.emulator.calls()])
    # Inès on WhatsApp: an image with the same bytes, uploaded by the bot (not Zoé's id).
    image = ines.last()
    assert image.kind == "image" and image.text == "*Zoé*: our spot"
    assert image.body["image"]["id"] != sent_id
    assert mixed.meta.media_sent(image).content == PHOTO
    assert "our spot" not in " ".join(zoe.texts())  # she does not get her own photo back


async def test_a_telegram_photo_reaches_whatsapp_members_with_its_bytes(
    mixed: MixedHarness, event
) -> None:
    ada, zoe, ines = await a_mixed_group(mixed, event)
    await ada.send_photo(caption="at the <door>", content=PHOTO)
    await mixed.drain()
    for person in (zoe, ines):
        image = person.last()
        assert image.kind == "image" and image.text == "*Ada*: at the <door>"
        # The largest size Telegram made of it: the photo itself, not a thumbnail.
        assert mixed.meta.media_sent(image).content == PHOTO
    # What waits in the outbox for WhatsApp names the file, never Ada's Telegram chat.
    rows = await OutboxMessage.filter(channel="whatsapp", method=notices.COPY)
    assert rows and all("from_chat_id" not in row.payload for row in rows)
    assert str(ada.id) not in str([request.body for request in mixed.meta.requests])


async def test_voice_notes_and_documents_go_both_ways(mixed: MixedHarness, event) -> None:
    ada, zoe, ines = await a_mixed_group(mixed, event)
    await zoe.send_voice(b"OggS zoe's voice")
    await mixed.drain()
    [voice] = [m for m in ada.messages() if m.data.get("voice")]
    assert mixed.emulator.files[voice.data["voice"]["file_id"]].content == b"OggS zoe's voice"
    assert "Zoé:" in received(ada)  # her name comes with it
    audio = ines.last()
    assert audio.kind == "audio" and mixed.meta.media_sent(audio).content == b"OggS zoe's voice"

    await zoe.send_document(b"%PDF zoe's map", filename="map.pdf", caption="the way")
    await mixed.drain()
    [document] = [m for m in ada.messages() if m.data.get("document")]
    assert document_bytes(mixed, document) == b"%PDF zoe's map"
    assert document.data["document"]["file_name"] == "map.pdf"
    assert document.caption == "Zoé: the way"

    await ada.send_voice(b"OggS ada's voice")
    await ada.send_document("plan.pdf", b"%PDF ada's plan", caption="plan")
    await mixed.drain()
    name, audio, sent = zoe.messages()[-3:]
    assert name.text == "*Ada*:"
    assert audio.kind == "audio" and mixed.meta.media_sent(audio).content == b"OggS ada's voice"
    assert sent.kind == "document" and sent.text == "*Ada*: plan"
    assert mixed.meta.media_sent(sent).content == b"%PDF ada's plan"
    assert sent.body["document"]["filename"] == "plan.pdf"


async def test_stickers_get_a_clear_answer_and_a_clear_placeholder(
    mixed: MixedHarness, event
) -> None:
    ada, zoe, _ines = await a_mixed_group(mixed, event)
    before = len(received(ada))
    answer = await mixed.wa_send(zoe, zoe.send_sticker())
    assert "Stickers, videos and contacts cannot be passed on to your group" in answer
    await mixed.drain()
    assert len(received(ada)) == before  # nothing relayed
    await ada.send_sticker()
    await mixed.drain()
    assert zoe.texts()[-2:] == [
        "*Ada*:",
        "🖼 (a sticker or another message shown only on the other app)",
    ]


async def test_a_file_that_cannot_be_fetched_becomes_a_placeholder(
    mixed: MixedHarness, event
) -> None:
    ada, zoe, ines = await a_mixed_group(mixed, event)
    # Meta no longer has Zoé's photo when the bot fetches it: Ada is told in words.
    photo = {"mime_type": "image/jpeg", "sha256": "0" * 64, "id": "1999999999999999"}
    await mixed.meta.inbound(zoe.contact, "image", photo | {"caption": "look"})
    await mixed.drain()
    assert received(ada)[-1] == "🖼 Zoé: look\n(a photo that could not be passed on)"
    assert ines.texts()[-1] == "🖼 *Zoé*: look\n(a photo that could not be passed on)"
    assert not telegram_photos(ada)
    # Telegram will not let bots download a file over 20 MB: the WhatsApp members hear of it.
    await ada.send_document("huge.pdf", b"%" * (20 * 1024 * 1024 + 1))
    await mixed.drain()
    assert zoe.texts()[-2:] == ["*Ada*:", "📄 (a file that could not be passed on)"]


async def test_a_fetch_that_fails_for_now_is_tried_again(mixed: MixedHarness, event) -> None:
    ada, zoe, ines = await a_mixed_group(mixed, event)
    mixed.meta.fail_next_media(131000)  # Meta's own failure, once
    await zoe.send_image("again", content=PHOTO)
    await mixed.drain()
    [photo] = telegram_photos(ada)
    assert photo_bytes(mixed, photo) == PHOTO and photo.caption == "Zoé: again"
    assert mixed.meta.media_sent(ines.last()).content == PHOTO
    assert [r.error_code for r in mixed.meta.requests if r.status >= 400] == [131000]


async def test_a_fetch_that_keeps_failing_gives_way_to_the_placeholder(
    mixed: MixedHarness, event
) -> None:
    ada, zoe, ines = await a_mixed_group(mixed, event)
    for worker in get_workers(mixed.application).outboxes:
        worker.backoff_base = 0.02  # 2 s in production; the delays are not what is tested
    mixed.meta.fail_next_media(131000, times=2 * FETCH_ATTEMPTS)  # both copies, every try
    await zoe.send_image("blurry", content=PHOTO)
    await mixed.drain()
    assert received(ada)[-1] == "🖼 Zoé: blurry\n(a photo that could not be passed on)"
    assert ines.texts()[-1] == "🖼 *Zoé*: blurry\n(a photo that could not be passed on)"
    failed = [r for r in mixed.meta.requests if r.error_code == 131000]
    assert len(failed) == 2 * FETCH_ATTEMPTS
    # Her chat goes on: what the group says next reaches her.
    await mixed.wa_say(zoe, "never mind")
    await mixed.drain()
    assert received(ada)[-1] == "Zoé: never mind"


async def test_a_photo_outside_her_window_is_never_sent_free_form(
    mixed: MixedHarness, event
) -> None:
    ada, zoe, ines = await a_mixed_group(mixed, event)
    person = await Person.get(whatsapp_id=zoe.wa_id)
    await Person.filter(id=person.id).update(last_message_at=mixed.meta.now() - timedelta(hours=30))
    before = len(zoe.messages())
    await ada.send_photo(caption="here", content=PHOTO)
    await mixed.drain()
    assert len(zoe.messages()) == before
    row = await OutboxMessage.get(channel="whatsapp", chat_id=person.id, method=notices.COPY)
    assert row.status == "failed" and "24-hour window" in row.error
    uploads = [media for media in mixed.meta.media.values() if media.uploaded]
    assert len(uploads) == 1  # Inès's copy only: nothing fetched or uploaded for Zoé
    assert mixed.meta.media_sent(ines.last()).content == PHOTO
