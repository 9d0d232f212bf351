"""A night in progress for the board's tests, written straight to the database: two waves,
groups whose members are at every stage of the trip home, someone waiting for a group, and
open help alerts. Telegram ids are large and distinctive so tests can look for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from companion_bot import clock
from companion_bot.models import (
    CompanionGroup,
    DepartureWave,
    Event,
    GroupKind,
    GroupMember,
    GroupStatus,
    HelpAlert,
    HelpLevel,
    HelpStatus,
    Person,
    Registration,
    RegistrationStatus,
    Role,
    RoleKind,
    Unplaced,
)

ORGANIZER_ID = 987_650_001
VOLUNTEER_ID = 987_650_002
# name → (telegram id, wave index, group in the wave or None)
ATTENDEES = {
    "Alice": (987_651_001, 0, 0),
    "Béatrice": (987_651_002, 0, 0),
    "Chloé": (987_651_003, 0, 1),
    "Dounia": (987_651_004, 0, 1),
    "Emma": (987_651_005, 1, 0),
    "Fatou": (987_651_006, 1, 0),
    "Gaëlle": (987_651_007, 1, None),
}


@dataclass
class Night:
    event: Event
    registrations: dict[str, Registration]

    @property
    def telegram_ids(self) -> list[int]:
        return [ORGANIZER_ID, VOLUNTEER_ID] + [tid for tid, _, _ in ATTENDEES.values()]


async def seed_night(event: Event) -> Night:
    now = clock.now()
    organizer = await Person.create(telegram_id=ORGANIZER_ID, display_name="Orga", language="en")
    await Role.create(event=event, person=organizer, kind=RoleKind.ORGANIZER)
    volunteer = await Person.create(telegram_id=VOLUNTEER_ID, display_name="Zoé", language="en")
    await Role.create(event=event, person=volunteer, kind=RoleKind.VOLUNTEER, on_duty=True)
    waves = await DepartureWave.filter(event=event).order_by("departs_at")
    registrations: dict[str, Registration] = {}
    groups: dict[tuple[int, int], CompanionGroup] = {}
    for name, (telegram_id, wave_index, group_index) in ATTENDEES.items():
        person = await Person.create(telegram_id=telegram_id, display_name=name, language="en")
        registration = await Registration.create(
            event=event, person=person, status=RegistrationStatus.CONFIRMED, consent_at=now,
            confirmed_at=now, wants_departure_group=True, destination_place_id="paris-11",
            departure_wave=waves[wave_index],
        )  # fmt: skip
        registrations[name] = registration
        if group_index is None:
            await Unplaced.create(
                event=event, registration=registration, kind=GroupKind.DEPARTURE,
                reason="nobody going her way",
            )  # fmt: skip
            continue
        key = (wave_index, group_index)
        if key not in groups:
            wave = waves[wave_index]
            groups[key] = await CompanionGroup.create(
                event=event, kind=GroupKind.DEPARTURE, status=GroupStatus.ANNOUNCED,
                departure_wave=wave, meeting_point_id=wave.meeting_point_id,
                meet_at=wave.departs_at, announced_at=now,
            )  # fmt: skip
        await GroupMember.create(group=groups[key], registration=registration,
                                 position=len(registrations), introduced_at=now)  # fmt: skip
    # Béatrice is at the meeting point; Chloé and Dounia's group has left, Dounia is home;
    # Fatou went quiet after leaving: the team was alerted.
    await Registration.filter(id=registrations["Béatrice"].id).update(at_meeting_point_at=now)
    left_group = groups[(0, 1)]
    await CompanionGroup.filter(id=left_group.id).update(
        status=GroupStatus.LEFT, left_at=now, left_confirmed_by=volunteer
    )
    await Registration.filter(id__in=[registrations["Chloé"].id, registrations["Dounia"].id]
                              ).update(left_at=now)  # fmt: skip
    await Registration.filter(id=registrations["Dounia"].id).update(home_at=now)
    await Registration.filter(id=registrations["Fatou"].id).update(
        left_at=now - timedelta(hours=2), no_news_alerted_at=now
    )
    await HelpAlert.create(
        event=event, person=await registrations["Emma"].person, level=HelpLevel.HARASSED,
        status=HelpStatus.CLAIMED, text="Alice's ex is here", claimed_by=volunteer,
        claimed_at=now,
    )  # fmt: skip
    await HelpAlert.create(
        event=event, person=await registrations["Gaëlle"].person, level=HelpLevel.DANGER,
        status=HelpStatus.OPEN,
    )  # fmt: skip
    for registration in registrations.values():
        await registration.refresh_from_db()
    return Night(event, registrations)
