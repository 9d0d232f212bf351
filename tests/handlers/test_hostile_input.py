"""Property-based fuzzing of the running bot through the emulator: random updates of every
kind, from known and unknown people, in private chats, groups and channels, with garbage
button data. The bot must never raise, never leave broken state, and keep answering."""

from __future__ import annotations

import contextlib
import itertools
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion_bot.models import (
    Person,
    Registration,
    RegistrationStatus,
    UserData,
)
from companion_bot.services.people import clean_display_name
from companion_bot.services.registrations import Step
from handlers.conversation import CONVERSATIONS
from tests.support import BotHarness

_ids = itertools.count(900_000)
COMMANDS = ["/start", "/me", "/leave", "/cancel", "/help", "/language", "/mydata", "/forget",
            "/group", "/report", "/duty", "/waves", "/broadcast", "/dashboard", "/departures",
            "/match", "/newevent", "/myevents", "/companions", "/name", "/nope"]  # fmt: skip

any_text = st.text(min_size=0, max_size=300) | st.text(min_size=3000, max_size=5000)
coordinates = st.tuples(
    st.floats(min_value=-90, max_value=90, allow_nan=False),
    st.floats(min_value=-180, max_value=180, allow_nan=False),
)


@st.composite
def actions(draw, codes: list[str]):
    kind = draw(
        st.sampled_from(
            ["text", "command", "start_code", "tap", "forged", "sticker", "photo", "location",
             "contact", "edit", "group", "channel", "raw", "document"]
        )
    )  # fmt: skip
    person = draw(st.integers(min_value=0, max_value=4))
    if kind == "text":
        return (kind, person, draw(any_text))
    if kind == "command":
        return (kind, person, draw(st.sampled_from(COMMANDS)), draw(st.text(max_size=40)))
    if kind == "start_code":
        return (kind, person, draw(st.sampled_from([*codes, "bad!code", "", "x" * 70])))
    if kind == "tap":
        return (kind, person, draw(st.integers(min_value=0, max_value=20)))
    if kind == "forged":
        return (kind, person, draw(st.text(max_size=64)))
    if kind == "location":
        lat, lon = draw(coordinates)
        return (kind, person, lat, lon, draw(st.none() | st.integers(60, 86400)))
    if kind == "raw":
        return (kind, person, draw(st.sampled_from(["inline_query", "inline_button", "unknown_user",
                                                    "no_text", "chat_member"])))  # fmt: skip
    return (kind, person, draw(any_text))


async def perform(harness: BotHarness, people, action) -> None:
    kind, index = action[0], action[1]
    person = people[index]
    emulator = harness.emulator
    if kind == "text":
        await person.send_text(action[2] or " ")
    elif kind == "command":
        await person.send_command(action[2], action[3].split("\n")[0][:30] or None)
    elif kind == "start_code":
        await person.send_command("/start", action[2] or None)
    elif kind == "tap":
        buttons = [(m, b) for m in person.messages()[-3:] for b in m.inline_buttons()]
        if buttons:
            message, button = buttons[action[2] % len(buttons)]
            await person.tap(lambda b, button=button: b == button, message=message)
    elif kind == "forged":
        last = person.last_message()
        await person.tap_data(last.message_id if last else 1, action[2] or "x")
    elif kind == "sticker":
        await person.send_sticker()
    elif kind == "photo":
        await person.send_photo(caption=action[2][:200] or None)
    elif kind == "document":
        await person.send_document()
    elif kind == "contact":
        await person.send_contact("+33600000000")
    elif kind == "location":
        await person.send_location(action[2], action[3], live_period=action[4])
    elif kind == "edit":
        with contextlib.suppress(LookupError):  # she has written nothing yet
            await person.edit_message(text=action[2] or "edited")
    elif kind == "group":
        group = harness.group
        await group.send_command(person, "/start", None) if action[2].startswith("/") else \
            await group.send_text(person, action[2] or "hi")  # fmt: skip
    elif kind == "channel":
        await harness.channel.post(action[2] or "post")
    elif kind == "raw":
        raw = {
            "inline_query": {"inline_query": {"id": str(next(_ids)),
                                              "from": person.account.to_user(),
                                              "query": "x", "offset": ""}},
            "inline_button": {"callback_query": {
                "id": str(next(_ids)), "from": person.account.to_user(), "chat_instance": "1",
                "inline_message_id": "AAAA", "data": "su:sum:confirm"}},
            "unknown_user": {"message": {"message_id": next(_ids), "date": 0,
                                         "chat": {"id": next(_ids), "type": "private"},
                                         "from": {"id": next(_ids), "is_bot": False,
                                                  "first_name": "?"}, "text": "/start"}},
            "no_text": {"message": {"message_id": next(_ids), "date": 0,
                                    "chat": {"id": person.id, "type": "private"},
                                    "from": person.account.to_user()}},
            "chat_member": {"my_chat_member": {
                "chat": {"id": person.id, "type": "private"}, "from": person.account.to_user(),
                "date": 0,
                "old_chat_member": {"status": "member",
                                    "user": emulator.default_bot.account.to_user()},
                "new_chat_member": {"status": "kicked", "until_date": 0,
                                    "user": emulator.default_bot.account.to_user()}}},
        }[action[2]]  # fmt: skip
        emulator.inject_update(raw)


async def assert_state_is_sound() -> None:
    for registration in await Registration.filter(
        status=RegistrationStatus.CONFIRMED
    ).prefetch_related("person"):
        assert registration.consent_at is not None
        assert registration.person.display_name
        assert registration.arrival_kind is not None
        assert registration.wants_departure_group is not None
        if registration.wants_departure_group:
            assert registration.destination_place_id and registration.transport
    for person in await Person.filter(display_name__not_isnull=True):
        assert clean_display_name(person.display_name) == person.display_name
    steps = {step.value for step in Step}
    for state in await UserData.all().values_list("data", flat=True):
        step = (state or {}).get(CONVERSATIONS, {}).get("signup")
        assert step is None or step in steps


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "30")),
    derandomize=not os.environ.get("FUZZ_EXAMPLES"),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_updates_never_break_the_bot(harness: BotHarness, event, data) -> None:
    if not hasattr(harness, "people"):
        harness.people = [harness.user(first_name=f"Fuzz{i}", language_code=lang)
                          for i, lang in enumerate(["fr", "en", None, "de", "fr"])]  # fmt: skip
        harness.group = harness.emulator.group("Soirée")
        await harness.group.add_bot(harness.people[0])
        harness.channel = harness.emulator.channel("Annonces")
        await harness.channel.add_bot(harness.people[0])
    codes = [event.attendee_code, event.volunteer_code, event.organizer_code]
    steps = data.draw(st.lists(actions(codes), min_size=1, max_size=12))
    for step in steps:
        await perform(harness, harness.people, step)
    await harness.drain()
    assert harness.application.bot_data.get("errors", 0) == 0
    await assert_state_is_sound()
    # Still serving: a fresh person gets her answer.
    newcomer = harness.user(language_code="en")
    await newcomer.send_command("/start", None)
    await harness.settle()
    assert "open the link the organizers shared" in (newcomer.last_text() or "")
