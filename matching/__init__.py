"""Matching engine of Compagnonnes de route: arrival groups and departure groups.

People who come alone to a party are grouped twice: an *arrival group* meets at a meeting point
and enters together; a *departure group* leaves with a departure wave and shares the trip home.
This package decides the groups. It is pure: no Telegram, no database, no clock (the caller
passes ``now``), and it imports nothing from the rest of the project. Dataclasses in,
dataclasses out (:mod:`matching.model`).

API
---
``match(event, attendees, locked_groups=(), rules=None, seed=0, now=None) -> Matching``
    One round. ``attendees`` are everyone signed up (locked groups' members included);
    ``locked_groups`` are the announced groups: they keep their members and meeting time and
    may only grow. Returns ``arrival_groups``, ``departure_groups``, ``unplaced`` (who is alone
    and why, for the volunteers) and ``report`` (the objective and its parts). Deterministic
    for a given input and seed.
``place_late_signup(event, newcomer, groups, attendees_by_id, now, rules=None) -> LatePlacement``
    A sign-up between rounds joins the cheapest open group that fits within the thresholds
    (the grown group is returned with its id), or waits in the pool for the next round.
``cancel(event, attendee_id, groups) -> Cancellation``
    Takes her out of her groups; a group that falls below the minimum is dissolved and whoever
    is left alone is listed (``left_alone``) so that the bot tells her and puts her back in the
    pool (or tries ``place_late_signup`` for her at once).
``misfits(event, group, attendees_by_id, rules=None) -> tuple[str, ...]``
    Members of an announced group whose answers changed so that they no longer fit it (another
    wave, transport class, arrival window, or a destination beyond the detour cap): the bot
    takes them out with ``cancel`` and places them again.
``decide_announcement(group, event, attendees_by_id, now, rules=None) -> AnnouncementDecision``
    Announce at the deadline tied to the group's arrival slot or departure wave, earlier when
    the group is already good. Announced groups are passed back to ``match`` as locked.
``evaluate(event, attendees, groups, rules=None) -> CostReport`` and ``validate(...) -> list``
    The objective (:mod:`matching.objective`) and the hard rules, for any set of groups.

Example (a round, as the bot runs it)::

    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from matching import (ArrivalWindow, Attendee, DepartureWave, Event, MeetingPoint, Point,
                          Transport, decide_announcement, match)

    doors = datetime(2025, 6, 14, 23, 0, tzinfo=ZoneInfo("Europe/Paris"))
    event = Event(
        venue=Point(48.8983, 2.3707),
        meeting_points=(MeetingPoint("west", "Metro exit", Point(48.8987, 2.3672)),),
        departure_waves=(DepartureWave("last-metro", doors + timedelta(hours=2, minutes=30)),),
    )
    early = ArrivalWindow(doors, doors + timedelta(minutes=30))
    later = ArrivalWindow(doors + timedelta(minutes=10), doors + timedelta(minutes=60))
    attendees = [
        Attendee("ana", early, Point(48.8574, 2.3795), Transport.TRANSIT, "last-metro"),
        Attendee("bea", later, Point(48.8650, 2.3780), Transport.WALK, "last-metro"),
        Attendee("cleo", early, Point(48.8637, 2.3615), Transport.NIGHT_BUS, "last-metro"),
        Attendee("dina", early, Point(48.8637, 2.3615), Transport.CAR, "last-metro"),
    ]
    now = doors - timedelta(hours=5)
    result = match(event, attendees, locked_groups=(), now=now)
    by_id = {a.id: a for a in attendees}
    for group in result.groups:
        decision = decide_announcement(group, event, by_id, now)
        # arrival ('ana', 'cleo', 'dina', 'bea') 23:15 west -> announce (already_good)
        # departure ('cleo', 'bea', 'ana') 01:30 west -> wait (deadline 19:30)
    result.unplaced  # (Unplaced('dina', DEPARTURE, NO_COMPATIBLE_COMPANION),): the only driver
    result.report.total  # 106.20: 100 for dina alone, the rest for the departure trio

Rules in brief
--------------
- Sizes come from the event (default minimum 2, preferred 3-4, maximum 5). Whoever would be
  alone joins the closest compatible group, up to the maximum + 1 (flag ``oversize``), or is
  returned as unplaced with a reason.
- Transport compatibility (:data:`matching.model.TRANSPORT_CLASS`): walk, transit and night bus
  travel together; taxis only with taxis (at most 4); bikes with bikes; cars with cars.
- Departure groups: one wave, one transport class, nobody's detour over ``rules.max_detour``
  (50 %) in the drop-off chain model, members in the cheapest drop-off order (every order is
  tried up to 6 members; ``Group.members`` is that order). A driver who offers seats
  (``Attendee.seats``) takes people on foot or public transport of her wave home (she is
  last, her detour within ``rules.max_driver_detour``); drivers who offer none are grouped only
  to walk to the car park together (no chain). Arrival groups: windows overlap by at least
  ``rules.min_arrival_overlap`` (15 min); the meeting time is on a 5-minute grid inside it.
- "Never group me with X": ``Attendee.avoid``, symmetric, never broken.

Benchmark: ``python -m matching.bench`` (see :mod:`matching.bench`).
"""

from matching.engine import Matching, choose_meeting_point, match
from matching.incremental import (
    AnnouncementDecision,
    Cancellation,
    LatePlacement,
    LeftAlone,
    announcement_anchor,
    cancel,
    decide_announcement,
    misfits,
    place_late_signup,
)
from matching.model import (
    CLASS_MAX_SIZE,
    MAX_SEATS,
    OVERSIZE,
    TRANSPORT_CLASS,
    WANTS_VOLUNTEER,
    ArrivalSlot,
    ArrivalWindow,
    Attendee,
    DepartureWave,
    Event,
    Group,
    GroupKind,
    GroupSizes,
    MatchingRules,
    MeetingPoint,
    Point,
    Transport,
    Unplaced,
    UnplacedReason,
    Weights,
    departure_class,
    is_driver,
    transport_class,
)
from matching.objective import CostReport, KindReport, Stats, evaluate, group_cost, validate

__all__ = [
    "CLASS_MAX_SIZE",
    "MAX_SEATS",
    "OVERSIZE",
    "TRANSPORT_CLASS",
    "WANTS_VOLUNTEER",
    "AnnouncementDecision",
    "ArrivalSlot",
    "ArrivalWindow",
    "Attendee",
    "Cancellation",
    "CostReport",
    "DepartureWave",
    "Event",
    "Group",
    "GroupKind",
    "GroupSizes",
    "KindReport",
    "LatePlacement",
    "LeftAlone",
    "Matching",
    "MatchingRules",
    "MeetingPoint",
    "Point",
    "Stats",
    "Transport",
    "Unplaced",
    "UnplacedReason",
    "Weights",
    "announcement_anchor",
    "cancel",
    "choose_meeting_point",
    "decide_announcement",
    "departure_class",
    "evaluate",
    "group_cost",
    "is_driver",
    "match",
    "misfits",
    "place_late_signup",
    "transport_class",
    "validate",
]
