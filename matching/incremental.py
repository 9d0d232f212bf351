"""Between rounds: late sign-ups, cancellations, and when to announce a group.

All functions are pure: they take the current groups and ``now`` and return what changes; the
bot stores the result and sends the messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from matching.geo import haversine_km
from matching.model import (
    OVERSIZE,
    WANTS_VOLUNTEER,
    Attendee,
    Event,
    Group,
    GroupKind,
    MatchingRules,
    departure_class,
    is_driver,
)
from matching.objective import departure_chain, group_cost, size_penalty, validate

#: A late sign-up's departure group is chosen among this many feasible groups whose nearest
#: member lives closest to her (the cheapest group is, in practice, one of them).
LATE_CANDIDATES = 24


@dataclass(frozen=True, slots=True)
class LatePlacement:
    """Where a late sign-up goes. A group she joins is returned grown (same id).

    For each kind she needs but did not join, she waits in the pool for the next round
    (``waiting``): no open group fits her within the thresholds.
    """

    attendee_id: str
    arrival_group: Group | None
    departure_group: Group | None
    waiting: frozenset[GroupKind]
    arrival_added_cost: float | None = None
    departure_added_cost: float | None = None


def _avoids(newcomer: Attendee, group: Group, attendees: Mapping[str, Attendee]) -> bool:
    if any(m in newcomer.avoid for m in group.members):
        return True
    return any(newcomer.id in attendees[m].avoid for m in group.members if m in attendees)


def _grown(group: Group, newcomer: Attendee, members: tuple[str, ...], regular_max: int) -> Group:
    flags = set(group.flags)
    if WANTS_VOLUNTEER in newcomer.flags:
        flags.add(WANTS_VOLUNTEER)
    if len(members) > regular_max:
        flags.add(OVERSIZE)
    return replace(group, members=members, flags=frozenset(flags))


def place_late_signup(
    event: Event,
    newcomer: Attendee,
    groups: Sequence[Group],
    attendees: Mapping[str, Attendee],
    now: datetime,
    rules: MatchingRules | None = None,
) -> LatePlacement:
    """Put one late sign-up in the cheapest open group that fits, or leave her in the pool.

    A group is open if it meets at least ``rules.min_notice`` after ``now`` and is below the
    maximum size. It fits if she can join without breaking a hard rule (arrival: the meeting
    time is inside her window; departure: same wave and transport class, nobody's detour over
    the cap; nobody avoided) and her joining adds at most ``rules.late_join_max_added_cost`` to
    the group's cost (joining a pair usually lowers it). ``attendees`` maps ids to the members
    of ``groups``. Cost: one pass over the groups plus a vectorised distance check; only the
    :data:`LATE_CANDIDATES` feasible groups nearest to her destination are costed in full.
    """
    rules = rules or MatchingRules()
    weights = rules.weights
    deadline = now + rules.min_notice
    waiting = set()
    arrival_group = departure_group = None
    arrival_cost = departure_cost = None
    window = newcomer.arrival
    arrival_max = event.max_size(None)
    size_delta = [
        size_penalty(k + 1, event.sizes, arrival_max, weights)
        - size_penalty(k, event.sizes, arrival_max, weights)
        for k in range(arrival_max)
    ]
    wave_id, class_name = newcomer.departure_wave, departure_class(newcomer)
    departure_max = event.max_size(class_name)
    arrival_options, departure_candidates = [], []
    arrival, departure = GroupKind.ARRIVAL, GroupKind.DEPARTURE
    if window is not None:
        earliest, latest = max(window.start, deadline), window.end
        preferred = window.preferred_time
        gap_weight, limit = weights.arrival_gap, rules.late_join_max_added_cost
    # One pass over the groups: this is the part that grows with the size of the event, so
    # the cheapest tests come first and nothing is computed twice.
    for group in groups:
        kind = group.kind
        if kind is arrival:
            if window is None:
                continue
            meeting = group.meeting_time
            if meeting < earliest or meeting > latest:
                continue
            size = len(group.members)
            if size >= arrival_max:
                continue
            added = gap_weight * abs((meeting - preferred).total_seconds()) / 60.0
            added += size_delta[size]
            if added <= limit:
                arrival_options.append((added, group.id, group))
        elif (
            kind is departure
            and wave_id is not None
            and group.wave_id == wave_id
            and group.transport_class == class_name
            and len(group.members) < departure_max
            and group.meeting_time >= deadline
        ):
            departure_candidates.append(group)

    if window is not None:
        # Usually the cheapest option fits: sort only when it does not.
        options = sorted(arrival_options, key=lambda option: option[:2])
        for added, _, group in options:
            if newcomer.id in group.members or _avoids(newcomer, group, attendees):
                continue
            members = [attendees[m] for m in group.members] + [newcomer]
            members.sort(
                key=lambda a: (a.arrival.preferred_time if a.arrival else group.meeting_time, a.id)
            )
            grown = _grown(group, newcomer, tuple(a.id for a in members), arrival_max)
            # Every rule of a round holds (the windows' shared time included).
            if validate(event, members, [grown], rules):
                continue
            arrival_cost, arrival_group = added, grown
            break
        if arrival_group is None:
            waiting.add(GroupKind.ARRIVAL)

    if wave_id is not None:
        candidates = [g for g in departure_candidates if newcomer.id not in g.members]
        found = (
            _best_departure(event, newcomer, candidates, attendees, rules) if candidates else None
        )
        if found is None:
            waiting.add(GroupKind.DEPARTURE)
        else:
            departure_cost, departure_group = found

    return LatePlacement(
        newcomer.id,
        arrival_group,
        departure_group,
        frozenset(waiting),
        arrival_cost,
        departure_cost,
    )


def _best_departure(
    event: Event,
    newcomer: Attendee,
    candidates: list[Group],
    attendees: Mapping[str, Attendee],
    rules: MatchingRules,
) -> tuple[float, Group] | None:
    """The cheapest open departure group of her wave and class that fits (see above)."""
    weights = rules.weights
    regular_max = event.max_size(departure_class(newcomer))

    def size_delta(size: int) -> float:
        return size_penalty(size + 1, event.sizes, regular_max, weights) - size_penalty(
            size, event.sizes, regular_max, weights
        )

    def first_valid(options: list[tuple[float, str, Group]]) -> tuple[float, Group] | None:
        for added, _, group in sorted(options, key=lambda option: option[:2]):
            if added > rules.late_join_max_added_cost:
                return None
            grown = _ordered_departure(event, group, newcomer, attendees, rules)
            members = [attendees[m] for m in group.members] + [newcomer]
            if not validate(event, members, [grown], rules):
                return added, grown
        return None

    venue = event.venue
    if departure_class(newcomer) == "car" or (
        newcomer.destination is None and not is_driver(newcomer)
    ):
        # A car group has no chain; without a destination she peels off at the venue: her
        # joining changes nobody's trip, only the group's size.
        return first_valid(
            [
                (size_delta(group.size), group.id, group)
                for group in candidates
                if not _avoids(newcomer, group, attendees)
            ]
        )

    # Vectorised pre-check: in any feasible chain, of two members the one dropped second has
    # travelled at least the nearer one's direct distance plus the distance between them.
    home = newcomer.destination or venue
    points = [attendees[m].destination or venue for group in candidates for m in group.members]
    owners = [index for index, group in enumerate(candidates) for _ in group.members]
    lats_a = np.fromiter((p.lat for p in points), float, len(points))
    lons_a = np.fromiter((p.lon for p in points), float, len(points))
    her_direct = float(haversine_km(venue.lat, venue.lon, home.lat, home.lon))
    direct = haversine_km(venue.lat, venue.lon, lats_a, lons_a)
    between = haversine_km(home.lat, home.lon, lats_a, lons_a)
    stretch = 1.0 + rules.max_detour + 1e-9
    ok = np.where(
        direct <= her_direct,
        direct + between <= stretch * her_direct,
        her_direct + between <= stretch * direct,
    )
    ok |= direct < 1e-6  # a member without a destination peels off first
    if her_direct < 1e-6:
        ok[:] = True
    starts = np.flatnonzero(np.r_[True, np.diff(np.array(owners)) != 0])
    blocked = np.logical_or.reduceat(~ok, starts)
    nearest = np.minimum.reduceat(between, starts)
    possible = np.flatnonzero(~blocked)
    # Only the groups whose nearest member lives closest to her are costed in full.
    ranked = possible[np.lexsort((possible, nearest[possible]))][:LATE_CANDIDATES]
    options = []
    for index in ranked.tolist():
        group = candidates[index]
        if _avoids(newcomer, group, attendees):
            continue
        members = [*(attendees[m] for m in group.members), newcomer]
        if not _departure_fits(event, members, rules):
            continue
        chain = departure_chain(venue, members, rules)
        after = (
            size_penalty(group.size + 1, event.sizes, regular_max, weights)
            + weights.detour * sum(chain.detours)
            + weights.solo_leg * chain.solo_leg_km
        )
        added = after - group_cost(event, group, attendees, rules)
        options.append((added, group.id, group))
    return first_valid(options)


def _ordered_departure(
    event: Event,
    group: Group,
    newcomer: Attendee,
    attendees: Mapping[str, Attendee],
    rules: MatchingRules | None = None,
) -> Group:
    """The grown group, members in their best drop-off order (the driver last)."""
    members = [attendees[m] for m in group.members] + [newcomer]
    chain = departure_chain(event.venue, members, rules)
    ordered = (
        tuple(m.id for m in members)
        if chain is None
        else (tuple(members[i].id for i in chain.order))
    )
    return _grown(group, newcomer, ordered, event.max_size(group.transport_class))


def misfits(
    event: Event,
    group: Group,
    attendees: Mapping[str, Attendee],
    rules: MatchingRules | None = None,
) -> tuple[str, ...]:
    """Members of an announced group whose answers no longer fit it (changed after it formed).

    She fits an arrival group if she still wants one and its meeting time is inside her window;
    a departure group if she still leaves with its wave, in its transport class, and the
    drop-off chain of the members who fit, her included, keeps everyone's detour within
    ``rules.max_detour``. Members are examined in the order given, so the first ones are the
    reference: pass them least recently changed first. The group's transport class is
    ``group.transport_class``, or else that of the first member who still wants the group.
    The bot takes the misfits out with :func:`cancel`, tells them, and places them again.
    """
    rules = rules or MatchingRules()
    out: list[str] = []
    if group.kind is GroupKind.ARRIVAL:
        for member in group.members:
            window = attendees[member].arrival
            if window is None or not window.start <= group.meeting_time <= window.end:
                out.append(member)
        return tuple(out)
    class_name = group.transport_class
    kept: list[Attendee] = []
    for member in group.members:
        attendee = attendees[member]
        if attendee.departure_wave is None or attendee.departure_wave != group.wave_id:
            out.append(member)
            continue
        mode = departure_class(attendee)
        if class_name is None:
            class_name = mode
        if mode != class_name or not _departure_fits(event, [*kept, attendee], rules):
            out.append(member)
            continue
        kept.append(attendee)
    return tuple(out)


def _departure_fits(event: Event, members: Sequence[Attendee], rules: MatchingRules) -> bool:
    """A departure group's members keep the hard rules of its chain: at most one driver, no
    more passengers than her seats, everyone within her detour cap (car groups: no chain)."""
    drivers = [m for m in members if is_driver(m)]
    if len(drivers) > 1 or (drivers and len(members) > drivers[0].seats + 1):
        return False
    chain = departure_chain(event.venue, members, rules)
    return chain is None or chain.feasible


@dataclass(frozen=True, slots=True)
class LeftAlone:
    """Someone whose group fell apart: she is back in the pool and must be told."""

    attendee_id: str
    kind: GroupKind
    former_group_id: str


@dataclass(frozen=True, slots=True)
class Cancellation:
    """The groups after someone cancels.

    ``changed`` groups lost her and go on (tell their members); ``dissolved`` groups fell below
    the minimum size (as they were before); ``left_alone`` lists who is back in the pool. The
    bot may try :func:`place_late_signup` for each of them straight away.
    """

    groups: tuple[Group, ...]
    changed: tuple[Group, ...]
    dissolved: tuple[Group, ...]
    left_alone: tuple[LeftAlone, ...]


def cancel(event: Event, attendee_id: str, groups: Sequence[Group]) -> Cancellation:
    """Take ``attendee_id`` out of every group she is in (announced or not)."""
    kept, changed, dissolved, left_alone = [], [], [], []
    for group in groups:
        if attendee_id not in group.members:
            kept.append(group)
            continue
        members = tuple(m for m in group.members if m != attendee_id)
        if len(members) < event.sizes.minimum:
            dissolved.append(group)
            left_alone.extend(LeftAlone(m, group.kind, group.id) for m in members)
            continue
        flags = group.flags
        class_name = group.transport_class if group.kind is GroupKind.DEPARTURE else None
        if len(members) <= event.max_size(class_name):
            flags = flags - {OVERSIZE}
        smaller = replace(group, members=members, flags=flags)
        kept.append(smaller)
        changed.append(smaller)
    return Cancellation(tuple(kept), tuple(changed), tuple(dissolved), tuple(left_alone))


@dataclass(frozen=True, slots=True)
class AnnouncementDecision:
    """Whether to announce a group now, and the deadline it must be announced by."""

    announce: bool
    deadline: datetime
    reason: str  # "deadline", "already_good", "wait" or "already_announced"


def announcement_anchor(group: Group, event: Event) -> datetime:
    """What the deadline hangs on: the arrival slot the meeting falls in, or the wave."""
    if group.kind is GroupKind.ARRIVAL:
        for slot in event.arrival_slots:
            if slot.start <= group.meeting_time < slot.end:
                return slot.start
        return group.meeting_time
    wave = event.wave(group.wave_id) if group.wave_id else None
    return wave.time if wave else group.meeting_time


def decide_announcement(
    group: Group,
    event: Event,
    attendees: Mapping[str, Attendee],
    now: datetime,
    rules: MatchingRules | None = None,
) -> AnnouncementDecision:
    """Announce a group at its deadline, or earlier if it is already good.

    Waiting for more sign-ups gives better groups, so a group is announced at the latest
    ``announce_lead_*`` before its anchor (see :func:`announcement_anchor`). A group that is
    already good (its size within the preferred range and its cost per member at most
    ``rules.good_cost_per_member``) is announced from ``announce_good_lead`` before the anchor,
    so people know early. Once announced, a group is locked: it keeps its members.
    """
    rules = rules or MatchingRules()
    anchor = announcement_anchor(group, event)
    lead = (
        rules.announce_lead_arrival
        if group.kind is GroupKind.ARRIVAL
        else rules.announce_lead_departure
    )
    deadline = anchor - lead
    if group.locked:
        return AnnouncementDecision(False, deadline, "already_announced")
    if now >= deadline:
        return AnnouncementDecision(True, deadline, "deadline")
    sizes = event.sizes
    if now >= anchor - rules.announce_good_lead and (
        sizes.preferred_min <= group.size <= sizes.preferred_max
        and group_cost(event, group, attendees, rules) <= rules.good_cost_per_member * group.size
    ):
        return AnnouncementDecision(True, deadline, "already_good")
    return AnnouncementDecision(False, deadline, "wait")
