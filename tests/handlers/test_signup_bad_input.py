"""Bad input at every step of the sign-up, in French: a clear answer, the question again,
nothing lost, and the sign-up still completes."""

from __future__ import annotations

import pytest

from companion_bot.models import Registration, RegistrationStatus
from tests.support import BotHarness, data, texts_after

# The steps in order, each with the action that answers it (by callback data or text).
STEPS = [
    ("language", ("tap", "su:lang:fr")),
    ("charter", ("tap", "su:charter:yes")),
    ("name", ("tap", "su:name:default")),
    ("arrival", ("tap", "su:arr:slot:*")),
    ("destination", ("say", "Ménilmontant")),
    ("transport", ("tap", "su:tr:bike")),
    ("wave", ("tap", "su:wave:*")),
    ("summary", ("tap", "su:sum:confirm")),
]
QUESTIONS = {
    "language": "Quelle langue préfères-tu ?",
    "charter": "lis la charte",
    "name": "Quel nom tes compagnonnes de route verront-elles ?",
    "arrival": "Lieu : La Station. Quand penses-tu arriver ?",
    "destination": "Où vas-tu après l'événement ?",
    "transport": "Comment rentres-tu chez toi ?",
    "wave": "Quelle heure de départ te convient ?",
    "summary": "Vérifie et confirme",
}
USE_BUTTONS = "Réponds avec un des boutons ci-dessous, s'il te plaît."
TEXT_ONLY = "Ici, je ne peux lire que du texte."
NAME_AS_TEXT = "Écris ton prénom ou pseudo dans un message texte."
BUTTON_GONE = "Ce bouton n'est plus actif."
CHOICE_GONE = "Ce choix n'est plus disponible."
MID_SIGNUP = "Tu es en pleine inscription."


async def act(harness: BotHarness, person, action) -> None:
    kind, value = action
    if kind == "tap":
        await harness.tap(person, data(value))
    else:
        await harness.say(person, value)


async def reach(harness: BotHarness, person, event, step: str) -> None:
    await harness.say(person, f"/start {event.attendee_code}")
    for name, action in STEPS:
        if name == step:
            return
        await act(harness, person, action)


async def finish_from(harness: BotHarness, person, step: str) -> None:
    names = [name for name, _ in STEPS]
    for _name, action in STEPS[names.index(step) :]:
        await act(harness, person, action)


async def snapshot(person) -> dict:
    registration = await Registration.get(person__telegram_id=person.id).prefetch_related("person")
    row = (await Registration.filter(id=registration.id).values())[0]
    row.pop("updated_at")
    return {**row, "name": registration.person.display_name, "lang": registration.person.language}


def assert_asked_again(person, before: int, step: str, explanation: str) -> None:
    answer = texts_after(person, before)
    assert any(explanation in text for text in answer), answer
    assert QUESTIONS[step] in answer[-1], answer


async def assert_completes(harness: BotHarness, person, step: str) -> None:
    await finish_from(harness, person, step)
    registration = await Registration.get(person__telegram_id=person.id)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert "Ton inscription est enregistrée" in person.last_text()


BUTTON_STEPS = ["language", "charter", "arrival", "transport", "wave", "summary"]
ALL_STEPS = [name for name, _ in STEPS]


@pytest.mark.parametrize("step", BUTTON_STEPS)
async def test_free_text_where_a_button_is_expected(harness: BotHarness, event, step) -> None:
    camille = harness.user(first_name="Camille", language_code="fr")
    await reach(harness, camille, event, step)
    stored = await snapshot(camille)
    before = len(camille.messages())
    await harness.say(camille, "euh je sais pas trop")
    assert_asked_again(camille, before, step, USE_BUTTONS)
    assert await snapshot(camille) == stored
    await assert_completes(harness, camille, step)


@pytest.mark.parametrize("step", ALL_STEPS)
@pytest.mark.parametrize("kind", ["sticker", "photo", "contact"])
async def test_sticker_photo_or_contact_at_any_step(harness: BotHarness, event, step, kind) -> None:
    camille = harness.user(first_name="Camille", language_code="fr")
    await reach(harness, camille, event, step)
    stored = await snapshot(camille)
    before = len(camille.messages())
    if kind == "sticker":
        await camille.send_sticker("🦄")
    elif kind == "photo":
        await camille.send_photo()
    else:
        await camille.send_contact("+33612345678")
    await harness.settle()
    expected = {"name": NAME_AS_TEXT, "destination": TEXT_ONLY}.get(step, USE_BUTTONS)
    assert_asked_again(camille, before, step, expected)
    assert await snapshot(camille) == stored
    await assert_completes(harness, camille, step)


@pytest.mark.parametrize("step", ALL_STEPS[2:])
async def test_stale_button_from_an_earlier_question(harness: BotHarness, event, step) -> None:
    camille = harness.user(first_name="Camille", language_code="fr")
    await reach(harness, camille, event, step)
    stored = await snapshot(camille)
    first_question = camille.messages()[0]
    before = len(camille.messages())
    await camille.tap_data(first_question.message_id, "su:lang:en")
    await harness.settle()
    assert camille.callback_answers()[-1].text == BUTTON_GONE
    assert QUESTIONS[step] in texts_after(camille, before)[-1]
    assert await snapshot(camille) == stored
    await assert_completes(harness, camille, step)


@pytest.mark.parametrize(
    ("step", "forged"),
    [
        ("arrival", "su:arr:slot:999999"),
        ("destination", "su:dest:place:fr-nowhere-at-all"),
        ("transport", "su:tr:rocket"),
        ("wave", "su:wave:999999"),
        ("summary", "su:edit:everything"),
        ("arrival", "totally-made-up"),
        ("wave", "su:sum:confirm"),
    ],
)
async def test_forged_callback_data(harness: BotHarness, event, step, forged) -> None:
    camille = harness.user(first_name="Camille", language_code="fr")
    await reach(harness, camille, event, step)
    stored = await snapshot(camille)
    before = len(camille.messages())
    await camille.tap_data(camille.last_message().message_id, forged)
    await harness.settle()
    answer = camille.callback_answers()[-1].text
    assert answer in (BUTTON_GONE, CHOICE_GONE + " Choisis un des boutons ci-dessous.")
    assert QUESTIONS[step] in texts_after(camille, before)[-1]
    assert await snapshot(camille) == stored
    await assert_completes(harness, camille, step)


@pytest.mark.parametrize("step", ["charter", "arrival", "destination"])
async def test_command_of_another_journey_mid_sign_up(harness: BotHarness, event, step) -> None:
    camille = harness.user(first_name="Camille", language_code="fr")
    await reach(harness, camille, event, step)
    stored = await snapshot(camille)
    before = len(camille.messages())
    await harness.say(camille, "/newevent")
    assert_asked_again(camille, before, step, MID_SIGNUP)
    assert await snapshot(camille) == stored
    await assert_completes(harness, camille, step)


async def test_language_answered_by_typing(harness: BotHarness, event) -> None:
    camille = harness.user(first_name="Camille", language_code="fr")
    await reach(harness, camille, event, "language")
    reply = await harness.say(camille, "English")
    assert "Welcome to Nuit Compagnonnes" in reply.text
    registration = await Registration.get(person__telegram_id=camille.id).prefetch_related("person")
    assert registration.person.language == "en"


async def test_edited_message_is_not_taken_as_a_new_answer(harness: BotHarness, event) -> None:
    camille = harness.user(first_name="Camille", language_code="fr")
    await reach(harness, camille, event, "destination")
    await harness.say(camille, "Montreuil")
    before = len(camille.messages())
    await camille.edit_message(text="Ixelles")  # her latest message: "Montreuil"
    await harness.settle()
    registration = await Registration.get(person__telegram_id=camille.id)
    assert registration.destination_place_id == "fr-montreuil"
    assert texts_after(camille, before) == []
