"""The demo's attendee on WhatsApp (Zoé), driven as the page does: her chat goes through the
Cloud API emulator and the bot's signed webhook; she opens the event's wa.me link from the
organizer's chat, signs up by tapping reply buttons and list rows, and is introduced to her
arrival group, with the Telegram people; her chat is labelled as on WhatsApp in every
language of the page."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from companion_bot.demo.session import Demo
from companion_bot.i18n import LANGUAGES
from companion_bot.models import (
    Channel,
    GroupKind,
    GroupMember,
    Registration,
    RegistrationStatus,
)
from tests.demo.test_demo import act, bot_texts, persona, play_until, say, tap

JSON = dict


def wa_link(state: JSON) -> str:
    """The text the event's wa.me link types, as the page finds it in the organizer's chat."""
    return next(
        piece["wa"]
        for message in persona(state, "jo")["chat"]["messages"]
        for piece in message.get("text", [])
        if "wa" in piece
    )


async def test_zoe_signs_up_on_whatsapp_and_joins_a_group_with_telegram_people(
    client: TestClient, demo: Demo
) -> None:
    state = await (await client.get("/api/state?lang=en")).json()
    zoe = persona(state, "zoe")
    assert (zoe["channel"], zoe["channel_label"], zoe["language"]) == (
        "whatsapp",
        "on WhatsApp",
        "fr",
    )
    assert zoe["chat"]["messages"] == [] and zoe["chat"]["keyboard"] is None
    # The organizer's chat has the WhatsApp link (WHATSAPP_NUMBER is set); it types the
    # event's code in her box, as the "open the event link" chip does.
    code = wa_link(state)
    assert code == demo.event.attendee_code == zoe["suggestions"][0]["text"]
    assert [s["text"] for s in zoe["suggestions"][1:]] == ["menu", "moi", "groupe", "aide"]

    state = await say(client, "zoe", code)
    mine = [m for m in persona(state, "zoe")["chat"]["messages"] if not m["from_bot"]]
    assert mine[0]["text"] == [{"t": code}]
    assert "Quelle langue préfères-tu" in bot_texts(state, "zoe")[-1]
    state = await tap(client, state, "zoe", "✓ Français")
    state = await tap(client, state, "zoe", lambda text: "accepte" in text)
    state = await tap(client, state, "zoe", lambda text: "Zoé" in text)  # her profile name
    state = await tap(client, state, "zoe", lambda text: "–" in text)  # the first slot
    state = await say(client, "zoe", "Montreuil")
    state = await tap(client, state, "zoe", lambda text: "Métro" in text)
    state = await tap(client, state, "zoe", lambda text: text.startswith(tuple("0123456789")))
    state = await tap(client, state, "zoe", lambda text: "Confirmer" in text)
    assert "Ton inscription est enregistrée" in bot_texts(state, "zoe")[-1]
    # What she tapped shows as her own message, WhatsApp's bold without its stars.
    messages = persona(state, "zoe")["chat"]["messages"]
    assert [m["id"] for m in messages] == list(range(1, len(messages) + 1))
    assert any(m["text"] == [{"t": "✓ Français"}] for m in messages if not m["from_bot"])
    assert not any("*" in "".join(p["t"] for p in m.get("text", [])) for m in messages)
    assert {"t": "Nuit Compagnonnes (démo)", "b": True} in messages[-1]["text"]
    registration = await demo_registration(demo)
    assert registration.status == RegistrationStatus.CONFIRMED

    state = await play_until(
        client, lambda s: any("arrivée" in t and "groupe" in t for t in bot_texts(s, "zoe")[-3:])
    )
    hers = await GroupMember.get(registration=registration, group__kind=GroupKind.ARRIVAL)
    members = await GroupMember.filter(group_id=hers.group_id).prefetch_related(
        "registration__person"
    )
    channels = {member.registration.person.channel for member in members}
    assert channels == {Channel.WHATSAPP, Channel.TELEGRAM}, members
    names = [member.registration.person.display_name for member in members]
    introduction = "\n".join(bot_texts(state, "zoe")[-3:])
    assert all(name in introduction for name in names if name != "Zoé"), (names, introduction)
    assert "7301" not in introduction  # display names only

    # The relay: what she writes reaches the Telegram people of her group by name only.
    state = await say(client, "zoe", "Je suis au bar, écharpe rouge")
    await act(client, "/api/night/advance", {"minutes": 1})
    others = [name for name in names if name != "Zoé"]
    # The extras' chats are not on the page: what they received is in the emulator.
    relayed = [
        message.text
        for extra, user in demo.extras
        if extra.name in others
        for message in user.messages()
        if message.text
    ]
    assert any("Zoé" in text and "écharpe rouge" in text for text in relayed), relayed

    # Her departure: the reminder's buttons (their titles cut to WhatsApp's 20 characters);
    # the one she taps tells her group. Then the night goes on to its end, the morning-after
    # questions included, without WhatsApp refusing anything.
    def at_the_point(label: str) -> bool:
        return label.startswith("📍 Je suis au")

    state = await play_until(
        client,
        lambda s: any(at_the_point(button["text"])
                      for message in persona(s, "zoe")["chat"]["messages"][-1:]
                      for row in message.get("buttons", []) for button in row),
        steps=30,
    )  # fmt: skip
    assert "Ton départ a lieu à" in bot_texts(state, "zoe")[-1]
    state = await tap(client, state, "zoe", at_the_point)
    assert "ton groupe et les bénévoles voient" in bot_texts(state, "zoe")[-1]
    state = await play_until(client, lambda s: s["night_over"], steps=40)
    assert not [r for r in demo.meta.requests if r.status != 200], "WhatsApp refused a message"
    assert "Trois petites questions" in bot_texts(state, "zoe")[-1]


async def demo_registration(demo: Demo) -> Registration:
    return await Registration.get(person__whatsapp_id="33612345678", event_id=demo.event.id)


async def test_her_column_is_labelled_in_every_language(client: TestClient) -> None:
    expected = {"fr": "sur WhatsApp", "en": "on WhatsApp", "nl": "op WhatsApp"}
    for language in LANGUAGES:
        state = await (await client.get(f"/api/state?lang={language}")).json()
        assert persona(state, "zoe")["channel_label"] == expected[language]
        assert persona(state, "maya")["channel_label"] is None


async def test_her_location_and_sticker(client: TestClient) -> None:
    state = await act(client, "/api/personas/zoe/location", {"place": "belleville"})
    messages = persona(state, "zoe")["chat"]["messages"]
    assert messages[0]["location"] == [48.8718, 2.381] and not messages[0]["from_bot"]
    assert messages[-1]["from_bot"]
    state = await act(client, "/api/personas/zoe/sticker", {})
    messages = persona(state, "zoe")["chat"]["messages"]
    assert any(m.get("sticker") for m in messages if not m["from_bot"])
    assert messages[-1]["from_bot"]
    response = await client.post(
        "/api/personas/zoe/tap?lang=en", json={"message_id": 999, "button": 0}
    )
    assert response.status == 409
