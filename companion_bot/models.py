"""Storage models (tortoise-orm).

Docstrings become SQL table comments: tortoise splits migration SQL on semicolons, so keep
them out of model docstrings.

Privacy by design: a person is her Telegram user id (needed to write to her), a language and
a display name of her choice. Destinations are gazetteer neighbourhood ids or an event's
zones ("zone:<id>"), never addresses or an attendee's coordinates. Times are stored in UTC
and shown in the event's time zone.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class RegistrationStatus(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class ArrivalKind(StrEnum):
    SLOT = "slot"
    ALREADY_THERE = "already_there"
    ON_MY_OWN = "on_my_own"


class Transport(StrEnum):
    WALK = "walk"
    TRANSIT = "transit"
    NIGHT_BUS = "night_bus"
    TAXI = "taxi"
    BIKE = "bike"
    CAR = "car"


class RoleKind(StrEnum):
    ORGANIZER = "organizer"
    VOLUNTEER = "volunteer"


class GroupKind(StrEnum):
    ARRIVAL = "arrival"
    DEPARTURE = "departure"


class EventKind(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"  # no venue, no trip home: attendees join tables (call links)
    HYBRID = "hybrid"  # each attendee says whether she comes in person or joins online


class GroupStatus(StrEnum):
    FORMING = "forming"  # stored by a matching round, not announced yet: may be reshuffled
    ANNOUNCED = "announced"  # members were introduced: may only grow
    LEFT = "left"  # a volunteer confirmed the departure group has left
    DISSOLVED = "dissolved"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"
    REMOVED = "removed"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class InboxStatus(StrEnum):
    PENDING = "pending"
    HANDLING = "handling"
    DONE = "done"
    PARKED = "parked"  # its handling failed every time: kept aside, never blocks her next ones


class HelpLevel(StrEnum):
    UNCOMFORTABLE = "uncomfortable"
    HARASSED = "harassed"
    DANGER = "danger"


class HelpStatus(StrEnum):
    DRAFT = "draft"  # waiting for her confirming tap (against pocket alarms)
    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Translated:
    """A row with texts an organizer may write in several languages (services/texts.py).

    Each such text keeps its first version in its own column (what anyone without a version
    in her language reads) and every version under `translations`, by field then language:
    {"name": {"fr": "Entrée principale", "en": "Main entrance"}}. Rows made before texts had
    versions have no `translations`: their columns say it all.
    """

    translations: dict | None

    def localized(self, field: str, language: str) -> str:
        """`field` in `language`, else its first version (the one in its column)."""
        versions = (self.translations or {}).get(field) or {}
        return versions.get(language) or getattr(self, field)


class Channel(StrEnum):
    """Where a person talks to the bot."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"


class Person(Model):
    """Someone the bot talks to, known by her channel and her address there: her Telegram
    user id, or her WhatsApp id (her number, as WhatsApp gives it). Services know her by
    `id`; only the channel's edge uses her address."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharEnumField(
        Channel, max_length=16, default=Channel.TELEGRAM, db_default="telegram"
    )
    telegram_id = fields.BigIntField(unique=True, null=True)
    whatsapp_id = fields.CharField(max_length=32, unique=True, null=True)
    # When she last wrote to the bot: on WhatsApp, free-form messages may go to her for 24
    # hours after it (companion_bot/whatsapp/window.py), templates only after that.
    last_message_at = fields.DatetimeField(null=True)
    language = fields.CharField(max_length=8, null=True)
    display_name = fields.CharField(max_length=64, null=True)
    # Set when Telegram says she blocked the bot: nothing more is sent until she writes again.
    blocked_bot_at = fields.DatetimeField(null=True)
    # Her duress answer to "are you home?", hashed (see services/duress.py); never shown.
    safe_word_hash = fields.CharField(max_length=128, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "person"


class Event(Model, Translated):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=120)
    kind = fields.CharEnumField(
        EventKind, max_length=16, default=EventKind.IN_PERSON, db_default="in_person"
    )
    # An online event has no venue: its name is the word "Online", its coordinates 0, 0.
    venue_name = fields.CharField(max_length=120)
    # Versions of name, venue_name and charter in several languages (see Translated).
    translations = fields.JSONField(null=True)
    venue_lat = fields.FloatField()
    venue_lon = fields.FloatField()
    timezone = fields.CharField(max_length=64, default="Europe/Paris")
    doors_open = fields.DatetimeField()
    closing = fields.DatetimeField()
    min_group_size = fields.SmallIntField(default=2)
    preferred_min_size = fields.SmallIntField(default=3)
    preferred_max_size = fields.SmallIntField(default=4)
    max_group_size = fields.SmallIntField(default=5)
    charter = fields.TextField()
    attendee_code = fields.CharField(max_length=32, unique=True)
    volunteer_code = fields.CharField(max_length=32, unique=True)
    organizer_code = fields.CharField(max_length=32, unique=True)
    # Secret part of the organizers' live board URL.
    board_token = fields.CharField(max_length=48, unique=True, null=True)
    # Closing time: reminder before a wave, "I'm home" reminder, then alert to the team.
    # (Columns added after the first version carry a database default, so upgrades work.)
    reminder_minutes = fields.SmallIntField(default=15, db_default=15)
    checkin_delay_minutes = fields.SmallIntField(default=60, db_default=60)
    escalation_delay_minutes = fields.SmallIntField(default=30, db_default=30)
    # The staged "are you home?", each stage this long after the one before: her reminder
    # (`checkin_delay_minutes` after she left), her group, the on-duty volunteers
    # (`escalation_delay_minutes`), the organizers.
    group_ask_delay_minutes = fields.SmallIntField(default=15, db_default=15)
    organizer_delay_minutes = fields.SmallIntField(default=30, db_default=30)
    # The event's safe place (shown in the help flow, the charter message and on the board).
    safe_place_name = fields.CharField(max_length=120, null=True)
    safe_place_where = fields.CharField(max_length=200, null=True)
    safe_place_hours = fields.CharField(max_length=64, null=True)
    # Personal data is purged this many days after closing; anonymous statistics stay.
    retention_days = fields.SmallIntField(default=7, db_default=7)
    purged_at = fields.DatetimeField(null=True)
    statistics = fields.JSONField(null=True)
    created_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="created_events", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    meeting_points: fields.ReverseRelation[MeetingPoint]
    arrival_slots: fields.ReverseRelation[ArrivalSlot]
    departure_waves: fields.ReverseRelation[DepartureWave]
    zones: fields.ReverseRelation[Zone]
    tables: fields.ReverseRelation[OnlineTable]

    class Meta:
        table = "event"


class MeetingPoint(Model, Translated):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="meeting_points", on_delete=fields.CASCADE
    )
    position = fields.SmallIntField(default=0)
    name = fields.CharField(max_length=120)
    translations = fields.JSONField(null=True)

    class Meta:
        table = "meeting_point"
        ordering = ("position", "id")


class ArrivalSlot(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="arrival_slots", on_delete=fields.CASCADE
    )
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    meeting_point: fields.ForeignKeyNullableRelation[MeetingPoint] = fields.ForeignKeyField(
        "models.MeetingPoint", related_name="arrival_slots", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "arrival_slot"
        ordering = ("starts_at", "id")


class DepartureWave(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="departure_waves", on_delete=fields.CASCADE
    )
    departs_at = fields.DatetimeField()
    meeting_point: fields.ForeignKeyNullableRelation[MeetingPoint] = fields.ForeignKeyField(
        "models.MeetingPoint", related_name="departure_waves", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "departure_wave"
        ordering = ("departs_at", "id")


class Zone(Model, Translated):
    """A destination organizers define for their event, offered next to the gazetteer.

    A station, a district, a town the gazetteer lacks: a name and a point. A registration
    heading there stores "zone:<id>" as its destination (see services/zones.py).
    """

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="zones", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=64)
    translations = fields.JSONField(null=True)
    lat = fields.FloatField()
    lon = fields.FloatField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "event_zone"
        unique_together = (("event", "name"),)
        ordering = ("name", "id")


class OnlineTable(Model):
    """A table (room) of an online or hybrid event: a call link organizers give, for a number
    of people, maybe for one activity. For each join slot, its people form one group."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="tables", on_delete=fields.CASCADE
    )
    position = fields.SmallIntField(default=0)
    name = fields.CharField(max_length=64)
    link = fields.CharField(max_length=300)
    capacity = fields.SmallIntField()
    # None: any activity (just chatting).
    activity = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "online_table"
        unique_together = (("event", "name"),)
        ordering = ("position", "id")


class Registration(Model):
    """One attendee at one event, filled step by step while she signs up (status draft)."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="registrations", on_delete=fields.CASCADE
    )
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="registrations", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(
        RegistrationStatus, max_length=16, default=RegistrationStatus.DRAFT
    )
    consent_at = fields.DatetimeField(null=True)
    arrival_kind = fields.CharEnumField(ArrivalKind, max_length=16, null=True)
    arrival_slot: fields.ForeignKeyNullableRelation[ArrivalSlot] = fields.ForeignKeyField(
        "models.ArrivalSlot", related_name="registrations", null=True, on_delete=fields.SET_NULL
    )
    # None: not answered yet; False: she travels home on her own terms.
    wants_departure_group = fields.BooleanField(null=True)
    destination_place_id = fields.CharField(max_length=64, null=True)
    transport = fields.CharEnumField(Transport, max_length=16, null=True)
    # A driver's seats for companions: None not asked, 0 she drives alone, 1-8 (MAX_SEATS).
    seats_offered = fields.SmallIntField(null=True)
    departure_wave: fields.ForeignKeyNullableRelation[DepartureWave] = fields.ForeignKeyField(
        "models.DepartureWave", related_name="registrations", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    confirmed_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)
    # The trip home, at closing time.
    at_meeting_point_at = fields.DatetimeField(null=True)
    left_at = fields.DatetimeField(null=True)
    home_at = fields.DatetimeField(null=True)
    home_reminded_at = fields.DatetimeField(null=True)
    no_news_alerted_at = fields.DatetimeField(null=True)
    missing_flagged_at = fields.DatetimeField(null=True)
    # Online or hybrid events: True joins a table online; False comes in person (hybrid);
    # None: an in-person event, or not answered yet.
    online = fields.BooleanField(null=True)
    # The activity she would like ("" for any); None: not asked (or not answered yet).
    activity = fields.CharField(max_length=64, null=True)
    # She tapped "we're in" at her table.
    joined_table_at = fields.DatetimeField(null=True)
    # The stages of "are you home?" after the volunteers (`no_news_alerted_at`), and the end.
    group_asked_at = fields.DatetimeField(null=True)
    organizers_alerted_at = fields.DatetimeField(null=True)
    all_clear_at = fields.DatetimeField(null=True)
    # She answered "are you home?" with her safe word (services/duress.py).
    duress_at = fields.DatetimeField(null=True)
    # Not at the meeting point at departure time while her group was (services/noshows.py).
    no_show_at = fields.DatetimeField(null=True)

    class Meta:
        table = "registration"
        unique_together = (("event", "person"),)


class Role(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="roles", on_delete=fields.CASCADE
    )
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="roles", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(RoleKind, max_length=16)
    on_duty = fields.BooleanField(default=False, db_default=False)
    duty_changed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "role"
        unique_together = (("event", "person", "kind"),)


class CompanionGroup(Model):
    """An arrival or departure group (the table is not called "group": an SQL keyword)."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="groups", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(GroupKind, max_length=16)
    status = fields.CharEnumField(GroupStatus, max_length=16, default=GroupStatus.FORMING)
    arrival_slot: fields.ForeignKeyNullableRelation[ArrivalSlot] = fields.ForeignKeyField(
        "models.ArrivalSlot", related_name="groups", null=True, on_delete=fields.SET_NULL
    )
    departure_wave: fields.ForeignKeyNullableRelation[DepartureWave] = fields.ForeignKeyField(
        "models.DepartureWave", related_name="groups", null=True, on_delete=fields.SET_NULL
    )
    meeting_point: fields.ForeignKeyNullableRelation[MeetingPoint] = fields.ForeignKeyField(
        "models.MeetingPoint", related_name="groups", null=True, on_delete=fields.SET_NULL
    )
    # An online group (kind arrival): the table whose link its members get, for its slot.
    table: fields.ForeignKeyNullableRelation[OnlineTable] = fields.ForeignKeyField(
        "models.OnlineTable", related_name="groups", null=True, on_delete=fields.SET_NULL
    )
    meet_at = fields.DatetimeField()
    oversize = fields.BooleanField(default=False)
    wants_volunteer = fields.BooleanField(default=False)
    announced_at = fields.DatetimeField(null=True)
    left_at = fields.DatetimeField(null=True)
    left_confirmed_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person",
        related_name="confirmed_departures",
        null=True,
        on_delete=fields.SET_NULL,
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    members: fields.ReverseRelation[GroupMember]

    class Meta:
        table = "companion_group"


class GroupMember(Model):
    id = fields.IntField(primary_key=True)
    group: fields.ForeignKeyRelation[CompanionGroup] = fields.ForeignKeyField(
        "models.CompanionGroup", related_name="members", on_delete=fields.CASCADE
    )
    registration: fields.ForeignKeyRelation[Registration] = fields.ForeignKeyField(
        "models.Registration", related_name="memberships", on_delete=fields.CASCADE
    )
    # Drop-off order in a departure group, arrival order in an arrival group.
    position = fields.SmallIntField(default=0)
    status = fields.CharEnumField(MemberStatus, max_length=16, default=MemberStatus.ACTIVE)
    muted = fields.BooleanField(default=False)
    introduced_at = fields.DatetimeField(null=True)
    joined_at = fields.DatetimeField(auto_now_add=True)
    left_at = fields.DatetimeField(null=True)

    class Meta:
        table = "group_member"
        unique_together = (("group", "registration"),)


class Unplaced(Model):
    """Someone matching could not put in a group: shown to the volunteers, with the reason."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="unplaced", on_delete=fields.CASCADE
    )
    registration: fields.ForeignKeyRelation[Registration] = fields.ForeignKeyField(
        "models.Registration", related_name="unplaced", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(GroupKind, max_length=16)
    reason = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "unplaced"


class Broadcast(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="broadcasts", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="broadcasts", null=True, on_delete=fields.SET_NULL
    )
    audience = fields.CharField(max_length=16)
    departure_wave: fields.ForeignKeyNullableRelation[DepartureWave] = fields.ForeignKeyField(
        "models.DepartureWave", related_name="broadcasts", null=True, on_delete=fields.SET_NULL
    )
    text = fields.TextField()
    recipients = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "broadcast"


class OutboxMessage(Model):
    """A notification waiting to be sent: survives crashes, paced to its channel's limits.

    `method` holds the notice's kind (companion_bot/notices.py). `chat_id` is, on Telegram,
    the chat's id; on WhatsApp, the recipient's Person id: her number is read when the
    notice is sent, so the outbox never holds it, and forgetting her leaves none behind.
    """

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharEnumField(
        Channel, max_length=16, default=Channel.TELEGRAM, db_default="telegram"
    )
    chat_id = fields.BigIntField()
    method = fields.CharField(max_length=32, default="text")
    payload = fields.JSONField()
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    priority = fields.SmallIntField(default=0)
    attempts = fields.SmallIntField(default=0)
    not_before = fields.DatetimeField()
    claimed_by = fields.CharField(max_length=64, null=True)
    claimed_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    telegram_message_id = fields.BigIntField(null=True)
    error = fields.CharField(max_length=200, null=True)
    # What to record once sent (e.g. which relayed copy belongs to which original).
    purpose = fields.CharField(max_length=32, null=True)
    reference = fields.JSONField(null=True)
    dedupe_key = fields.CharField(max_length=128, unique=True, null=True)
    # An edit (`outbox.edit`): the row whose sent message it changes; the message id is
    # filled in when it is sent. Forgetting a message forgets its edits.
    edit_of: fields.ForeignKeyNullableRelation[OutboxMessage] = fields.ForeignKeyField(
        "models.OutboxMessage", related_name="edits", null=True, on_delete=fields.CASCADE
    )
    # Unsent rows with the same key replace each other: the newest state wins.
    coalesce_key = fields.CharField(max_length=128, null=True, db_index=True)
    broadcast: fields.ForeignKeyNullableRelation[Broadcast] = fields.ForeignKeyField(
        "models.Broadcast", related_name="messages", null=True, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "outbox_message"
        indexes = (("status", "not_before"),)


class ScheduledTask(Model):
    """A timed action (reminder, escalation, matching round): survives crashes and restarts."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    due_at = fields.DatetimeField()
    payload = fields.JSONField(default=dict)
    status = fields.CharEnumField(TaskStatus, max_length=16, default=TaskStatus.PENDING)
    attempts = fields.SmallIntField(default=0)
    claimed_by = fields.CharField(max_length=64, null=True)
    claimed_at = fields.DatetimeField(null=True)
    done_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=200, null=True)
    dedupe_key = fields.CharField(max_length=128, unique=True, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "scheduled_task"
        indexes = (("status", "due_at"),)


class HelpAlert(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="help_alerts", on_delete=fields.CASCADE
    )
    person: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="help_alerts", null=True, on_delete=fields.SET_NULL
    )
    level = fields.CharEnumField(HelpLevel, max_length=16)
    status = fields.CharEnumField(HelpStatus, max_length=16, default=HelpStatus.DRAFT)
    text = fields.TextField(null=True)
    # Where she is at the venue, kept only while the alert is open.
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    claimed_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="claimed_alerts", null=True, on_delete=fields.SET_NULL
    )
    claimed_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "help_alert"


class RelayedMessage(Model):
    """Which copy of a relayed message each member got, for replies, reports and live edits."""

    id = fields.IntField(primary_key=True)
    group: fields.ForeignKeyRelation[CompanionGroup] = fields.ForeignKeyField(
        "models.CompanionGroup", related_name="relayed", on_delete=fields.CASCADE
    )
    sender: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="relayed_sent", null=True, on_delete=fields.CASCADE
    )
    sender_message_id = fields.BigIntField()
    recipient: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="relayed_received", on_delete=fields.CASCADE
    )
    recipient_message_id = fields.BigIntField(null=True)
    kind = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "relayed_message"


class MessageReport(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="reports", on_delete=fields.CASCADE
    )
    reporter: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="reports_made", null=True, on_delete=fields.SET_NULL
    )
    reported: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="reports_received", null=True, on_delete=fields.SET_NULL
    )
    excerpt = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    handled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "message_report"


class Avoidance(Model):
    """She asked never to be grouped again with this person (who is never told)."""

    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="avoids", on_delete=fields.CASCADE
    )
    # Emptied when the avoided person is deleted (forget, purge); `avoided_key` stays, so the
    # wish is honoured again if she comes back (see services/privacy.py).
    avoided: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="avoided_by", null=True, on_delete=fields.SET_NULL
    )
    # Keyed hash (HMAC with the bot's secret) of the avoided person's Telegram id.
    avoided_key = fields.CharField(max_length=64, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "avoidance"
        unique_together = (("person", "avoided"),)


class FollowupAnswer(Model):
    """The morning-after answers: anonymous unless she asked to be contacted."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="followups", on_delete=fields.CASCADE
    )
    group_met = fields.CharField(max_length=8, null=True)
    home_safe = fields.CharField(max_length=8, null=True)
    report = fields.TextField(null=True)
    contact: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="followups", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "followup_answer"


class InboxUpdate(Model):
    """An update received from Telegram, committed before Telegram gets its answer.

    Handled once, in the same transaction as its effects; the rows of one person (`key`) in
    `update_id` order. Once handled only the id is kept (to ignore a second delivery); the
    payload, which holds her words, is emptied.
    """

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16, default="telegram")
    update_id = fields.BigIntField()
    key = fields.CharField(max_length=64)
    payload = fields.JSONField(null=True)
    status = fields.CharEnumField(InboxStatus, max_length=16, default=InboxStatus.PENDING)
    attempts = fields.SmallIntField(default=0)
    due_at = fields.DatetimeField()
    claimed_by = fields.CharField(max_length=64, null=True)
    claimed_at = fields.DatetimeField(null=True)
    handled_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=200, null=True)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "inbox_update"
        unique_together = (("channel", "update_id"),)
        indexes = (("status", "due_at"), ("key", "update_id"))


class RateBudget(Model):
    """The next free slot of a rate every bot process shares (Telegram's limit is per bot).

    Only PostgreSQL deployments use it: several processes take their turns from this row.
    """

    name = fields.CharField(max_length=32, primary_key=True)
    next_at = fields.DatetimeField()

    class Meta:
        table = "rate_budget"


class UserData(Model):
    """Where she is in every conversation and its pending answers: the one place it lives.

    Read when her update is handled, written in the same transaction as its effects.
    """

    id = fields.IntField(primary_key=True)
    telegram_id = fields.BigIntField(unique=True)
    data = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "user_data"


class ChatState(Model):
    """Where someone on WhatsApp is in a conversation (the answer she is editing, a question
    waiting for her words): read when her message is handled, written in its transaction,
    deleted with her. (Telegram's lives in user_data.)"""

    id = fields.IntField(primary_key=True)
    person: fields.OneToOneRelation[Person] = fields.OneToOneField(
        "models.Person", related_name="chat_state", on_delete=fields.CASCADE
    )
    data = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "chat_state"


class AlertDrill(Model):
    """Before doors open, organizers check that the on-duty volunteers get alerts."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="alert_drills", on_delete=fields.CASCADE
    )
    sent_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="alert_drills_sent", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "alert_drill"


class AlertDrillReceipt(Model):
    """One volunteer's copy of a test alert, and when she acknowledged it."""

    id = fields.IntField(primary_key=True)
    drill: fields.ForeignKeyRelation[AlertDrill] = fields.ForeignKeyField(
        "models.AlertDrill", related_name="receipts", on_delete=fields.CASCADE
    )
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="alert_drill_receipts", on_delete=fields.CASCADE
    )
    acknowledged_at = fields.DatetimeField(null=True)

    class Meta:
        table = "alert_drill_receipt"
        unique_together = (("drill", "person"),)


async def fetch_missing(instance: Model, *relations: str) -> None:
    """`instance.fetch_related(*relations)`, for the relations not loaded yet.

    Tortoise's `fetch_related` queries every relation again, even one `select_related` or an
    earlier fetch already loaded, and the hot path (a sign-up answer) asks for the same ones
    several times. A relation loaded earlier is kept as it was: code that changes the related
    row through another object hands it over (`registration.person = person`).
    """
    missing = [path for path in relations if not _loaded(instance, path)]
    if missing:
        await instance.fetch_related(*missing)


def _loaded(instance: Model, path: str) -> bool:
    """Is the relation `path` ("event", "arrival_slot__meeting_point") loaded on `instance`?"""
    current: Model | None = instance
    for name in path.split("__"):
        if current is None:
            return True
        try:  # tortoise keeps a loaded foreign key under "_<name>"
            current = getattr(current, f"_{name}")
        except AttributeError:
            return False
    return True
