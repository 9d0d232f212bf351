"""Button data is read by the action codec (companion_bot/actions.py): data the bot signed
for her but that stands for no action (an id out of range, an unknown word, a kind routed to
no handler) is refused like a stale button, in her language, and changes nothing."""

from __future__ import annotations

import pytest

from companion_bot.models import CompanionGroup, GroupKind, GroupStatus, Role
from companion_bot.signing import sign
from tests.handlers.test_relay import a_group_of_three
from tests.support import BotHarness

GONE_FR = "Ce bouton n'est plus actif."


@pytest.mark.parametrize(
    "data",
    [
        "vo:left:9999999999",  # routed to the volunteers' handler, id out of range
        "du:{event}:2",  # neither on nor off duty
        "vo:fly:{group}",  # no such verb
        "vo:left:0{group}",  # an id written otherwise than the bot writes it
        "vo:left:{group}:1",  # one field too many
    ],
)
async def test_signed_data_of_no_action_is_refused_in_her_language(
    harness: BotHarness, event, data
):
    await a_group_of_three(harness, event)
    group = await CompanionGroup.filter(event=event, kind=GroupKind.DEPARTURE).first()
    vic = harness.user(first_name="Vic", language_code="fr")
    await harness.say(vic, f"/start {event.volunteer_code}")
    await harness.say(vic, "/duty")
    before = await Role.filter(person__telegram_id=vic.id).values_list("on_duty", flat=True)
    await vic.tap_data(
        vic.last_message().message_id, sign(vic.id, data.format(event=event.id, group=group.id))
    )
    await harness.settle()
    assert vic.callback_answers()[-1].text == GONE_FR
    assert (await CompanionGroup.get(id=group.id)).status == GroupStatus.ANNOUNCED
    after = await Role.filter(person__telegram_id=vic.id).values_list("on_duty", flat=True)
    assert after == before


async def test_a_volunteer_s_typed_button_still_works(harness: BotHarness, event):
    """The same data as a button the bot made, signed for her, does what it says."""
    vic = harness.user(first_name="Vic", language_code="fr")
    await harness.say(vic, f"/start {event.volunteer_code}")
    await harness.say(vic, "/duty")
    on_duty = (await Role.filter(person__telegram_id=vic.id).first()).on_duty
    await vic.tap_data(
        vic.last_message().message_id, sign(vic.id, f"du:{event.id}:{0 if on_duty else 1}")
    )
    await harness.settle()
    assert (await Role.filter(person__telegram_id=vic.id).first()).on_duty is not on_duty
