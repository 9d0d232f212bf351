"""An event's anonymous statistics, as rows (for the board of a purged event) and as CSV (for
`/export` and the board's download): counts per departure, groups by size, help alerts by
level, the morning-after answers. No names, no ids, no free text that could identify someone:
the follow-up reports are only counted."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from companion_bot.i18n import N_, Translator
from companion_bot.models import (
    CompanionGroup,
    Event,
    GroupKind,
    GroupStatus,
    HelpLevel,
    MeetingPoint,
    MemberStatus,
)
from companion_bot.services import broadcasts, help, lifecycle

TOTALS = {
    "signed_up": N_("signed up"),
    "cancelled": N_("cancelled"),
    "forgotten_registrations": N_("deleted their data"),
    "wanted_departure_group": N_("wanted a departure group"),
    "arrival_groups": N_("arrival groups"),
    "departure_groups": N_("departure groups"),
    "table_groups": N_("groups at online tables"),
    "joined_table": N_("said they were in their table's call"),
    "grouped_members": N_("places in groups"),
    "left": N_("departed"),
    "home": N_("said they were home"),
    "no_news_alerts": N_("no news (team alerted)"),
    "reports": N_("reported messages"),
}
WAVE_MEASURES = {
    "signed_up": N_("signed up"),
    "grouped": N_("grouped"),
    "at_meeting_point": N_("at the meeting point"),
    "left": N_("departed"),
    "home": N_("home safe"),
    "no_news": N_("no news"),
}
GROUP_KINDS = {GroupKind.ARRIVAL: N_("arrival groups"), GroupKind.DEPARTURE: N_("departure groups")}
TOTALS_SECTION = N_("Totals")
DEPARTURE_SECTION = N_("Departure")
GROUP_SIZES_SECTION = N_("Group sizes")
HELP_SECTION = N_("Help alerts")
FOLLOWUP_SECTION = N_("Morning-after answers")
COLUMNS = (N_("section"), N_("detail"), N_("measure"), N_("value"))
FOLLOWUP_MEASURES = {
    "answers": N_("answers"),
    "reports": N_("written reports (not exported)"),
}
FOLLOWUP_QUESTIONS = {"group_met": N_("Did your group meet?"), "home_safe": N_("Home safely?")}
FOLLOWUP_ANSWERS = {"group_met": lifecycle.MET_ANSWERS, "home_safe": lifecycle.HOME_ANSWERS}


async def night_statistics(event: Event) -> dict:
    """The part of the statistics that needs groups and waves, which the purge deletes:
    counts per departure and groups by size (keys are strings: this is stored as JSON)."""
    dashboard = await broadcasts.event_dashboard(event)
    waves = [
        {
            "departs_at": wave.wave.departs_at.isoformat(),
            **meeting_point_names(wave.wave.meeting_point),
            **{measure: getattr(wave, measure) for measure in WAVE_MEASURES},
        }
        for wave in dashboard.waves
    ]
    sizes: dict[str, Counter] = {kind.value: Counter() for kind in GroupKind}
    groups = await CompanionGroup.filter(
        event=event, status__in=[GroupStatus.ANNOUNCED, GroupStatus.LEFT]
    ).prefetch_related("members")
    for group in groups:
        size = sum(1 for member in group.members if member.status == MemberStatus.ACTIVE)
        if size:
            sizes[group.kind][str(size)] += 1
    return {"waves": waves, "group_sizes": {kind: dict(c) for kind, c in sizes.items()}}


def meeting_point_names(point: MeetingPoint | None) -> dict:
    """Its name, and its names by language when it has several (statistics older than
    that have the name only)."""
    if point is None:
        return {"meeting_point": ""}
    names = (point.translations or {}).get("name")
    return {"meeting_point": point.name, **({"meeting_point_names": names} if names else {})}


async def anonymous_statistics(event: Event) -> dict:
    if event.purged_at is not None:
        return dict(event.statistics or {})
    return await lifecycle.statistics(event)


@dataclass(frozen=True)
class Row:
    section: str
    detail: str
    measure: str
    value: int


def statistics_rows(t: Translator, statistics: dict, timezone: str) -> list[Row]:
    """The statistics in words of `t`'s language; unknown keys (older versions) are skipped."""
    _ = t.gettext
    rows: list[Row] = []
    totals = dict(statistics)
    registrations = totals.get("registrations") or {}
    totals["signed_up"] = registrations.get("confirmed", 0)
    totals["cancelled"] = registrations.get("cancelled", 0)
    section = _(TOTALS_SECTION)
    for key, label in TOTALS.items():
        if isinstance(totals.get(key), int):
            rows.append(Row(section, "", _(label), totals[key]))
    section = _(DEPARTURE_SECTION)
    for wave in statistics.get("waves") or []:
        detail = t.time(datetime.fromisoformat(wave["departs_at"]), timezone)
        names = wave.get("meeting_point_names") or {}
        if point := names.get(t.language) or wave.get("meeting_point"):
            detail += f" {point}"
        rows += [Row(section, detail, _(label), int(wave.get(key, 0)))
                 for key, label in WAVE_MEASURES.items()]  # fmt: skip
    section = _(GROUP_SIZES_SECTION)
    for kind, label in GROUP_KINDS.items():
        by_size = (statistics.get("group_sizes") or {}).get(kind.value) or {}
        for size in sorted(by_size, key=int):
            people = t.ngettext("{count} person", "{count} people", int(size)).format(count=size)
            rows.append(Row(section, _(label), people, by_size[size]))
    section = _(HELP_SECTION)
    alerts = statistics.get("help_alerts") or {}
    for level in HelpLevel:
        rows.append(Row(section, "", _(help.LEVEL_NAMES[level]), int(alerts.get(level.value, 0))))
    section = _(FOLLOWUP_SECTION)
    followups = statistics.get("followups") or {}
    for key, label in FOLLOWUP_MEASURES.items():
        value = followups.get(key, 0)
        # The reports' texts never leave the database: only how many there were.
        rows.append(Row(section, "", _(label), value if isinstance(value, int) else len(value)))
    for question, answers in FOLLOWUP_ANSWERS.items():
        counts = followups.get(question) or {}
        for answer, label in answers.items():
            rows.append(Row(section, _(FOLLOWUP_QUESTIONS[question]), _(label),
                            int(counts.get(answer, 0))))  # fmt: skip
    return rows


def _cell(text: str) -> str:
    # Spreadsheets run cells that start like a formula; meeting point names are typed text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(t: Translator, rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([t.gettext(column) for column in COLUMNS])
    for row in rows:
        writer.writerow([_cell(row.section), _cell(row.detail), _cell(row.measure), row.value])
    return buffer.getvalue()


async def event_csv(t: Translator, event: Event) -> str:
    statistics = await anonymous_statistics(event)
    return to_csv(t, statistics_rows(t, statistics, event.timezone))


def csv_filename(event: Event) -> str:
    day = event.doors_open.date().isoformat()
    return f"statistics-{event.id}-{day}.csv"
