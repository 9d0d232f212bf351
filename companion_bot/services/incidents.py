"""The night's incident log and the morning-after report, read from what the night stored (help
alerts, the stages of "are you home?", duress answers, reported messages, test alerts).

The log is for the organizers' board only (it names people, like the rest of the board). The
report is anonymous — counts and durations, never a name or an id — on the board and as a
downloadable CSV: departures per wave, how long help alerts waited to be claimed, when people
got home after leaving.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from datetime import datetime

from companion_bot.i18n import N_, Translator
from companion_bot.models import (
    AlertDrill,
    DepartureWave,
    Event,
    HelpAlert,
    HelpStatus,
    MessageReport,
    Registration,
    RegistrationStatus,
)
from companion_bot.services.help import LEVEL_NAMES

# What happened, by kind of entry; {name} is the attendee's display name, {level} the alert's.
KINDS = {
    "help": N_("🆘 Help alert ({level}): {name}"),
    "help_claimed": N_("🙋 Help alert of {name} taken by {by}"),
    "help_escalated": N_("⏰ Help alert of {name} sent to the organizers (not claimed in time)"),
    "help_closed": N_("✅ Help alert of {name} closed"),
    "home_group": N_("❓ No news from {name}: her group asked"),
    "home_volunteers": N_("⚠️ No news from {name}: volunteers alerted"),
    "home_organizers": N_("🚨 No news from {name}: organizers alerted"),
    "all_clear": N_("✅ All clear: {name} is safe"),
    "duress": N_("🚨 {name} answered with her safe word: in danger"),
    "report": N_("🚩 A message was reported"),
    "drill": N_("🧪 Test alert to the volunteers"),
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # a key of KINDS
    name: str = ""
    level: str = ""  # a HelpLevel value, for help alerts
    by: str = ""

    def text(self, t: Translator) -> str:
        level = t.gettext(LEVEL_NAMES[self.level]) if self.level in LEVEL_NAMES else ""
        return t.gettext(KINDS[self.kind]).format(name=self.name, level=level, by=self.by)


async def timeline(event: Event) -> list[Entry]:
    """Every incident of the night, oldest first (names in clear: organizers only)."""
    entries: list[Entry] = []
    for alert in (
        await HelpAlert.filter(event=event)
        .exclude(status=HelpStatus.DRAFT)
        .prefetch_related("person", "claimed_by")
    ):
        name = (alert.person.display_name if alert.person else None) or "?"
        entries.append(Entry(alert.created_at, "help", name, level=str(alert.level)))
        if alert.claimed_at:
            by = (alert.claimed_by.display_name if alert.claimed_by else None) or "?"
            entries.append(Entry(alert.claimed_at, "help_claimed", name, by=by))
        if alert.escalated_at:
            entries.append(Entry(alert.escalated_at, "help_escalated", name))
        if alert.closed_at:
            entries.append(Entry(alert.closed_at, "help_closed", name))
    stages = (
        ("group_asked_at", "home_group"),
        ("no_news_alerted_at", "home_volunteers"),
        ("organizers_alerted_at", "home_organizers"),
        ("duress_at", "duress"),
    )
    for registration in await Registration.filter(event=event).prefetch_related("person"):
        name = registration.person.display_name or "?"
        for field, kind in stages:
            if getattr(registration, field):
                entries.append(Entry(getattr(registration, field), kind, name))
        alerted = registration.group_asked_at or registration.no_news_alerted_at
        if registration.all_clear_at and alerted:
            entries.append(Entry(registration.all_clear_at, "all_clear", name))
    for report in await MessageReport.filter(event=event):
        entries.append(Entry(report.created_at, "report"))
    for drill in await AlertDrill.filter(event=event):
        entries.append(Entry(drill.created_at, "drill"))
    return sorted(entries, key=lambda entry: entry.at)


# -- the morning-after report (anonymous) -------------------------------------------------------


@dataclass(frozen=True)
class WaveLine:
    departs_at: datetime
    planned: int  # confirmed attendees on this departure
    left: int
    home: int


@dataclass(frozen=True)
class Report:
    waves: list[WaveLine]
    claim_minutes: list[int]  # per claimed help alert, from asking to being taken
    unclaimed: int  # help alerts closed or open without anyone taking them
    home_minutes: list[int]  # per person home, from leaving to saying so
    home_by_hour: list[tuple[datetime, int]]  # (hour, people who got home in it)
    no_news: int  # people who never said they were home


def _minutes(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() // 60))


async def report(event: Event) -> Report:
    waves = []
    registrations = await Registration.filter(event=event, status=RegistrationStatus.CONFIRMED)
    for wave in await DepartureWave.filter(event=event).order_by("departs_at"):
        mine = [r for r in registrations if r.departure_wave_id == wave.id]
        waves.append(
            WaveLine(
                wave.departs_at,
                len(mine),
                sum(1 for r in mine if r.left_at),
                sum(1 for r in mine if r.home_at),
            )
        )
    alerts = await HelpAlert.filter(event=event).exclude(status=HelpStatus.DRAFT)
    claim_minutes = sorted(_minutes(a.created_at, a.claimed_at) for a in alerts if a.claimed_at)
    home = [r for r in registrations if r.home_at and r.left_at]
    hours: dict[datetime, int] = {}
    for registration in home:
        hour = registration.home_at.replace(minute=0, second=0, microsecond=0)
        hours[hour] = hours.get(hour, 0) + 1
    return Report(
        waves=waves,
        claim_minutes=claim_minutes,
        unclaimed=sum(1 for a in alerts if not a.claimed_at),
        home_minutes=sorted(_minutes(r.left_at, r.home_at) for r in home),
        home_by_hour=sorted(hours.items()),
        no_news=sum(1 for r in registrations if r.left_at and not r.home_at),
    )


SECTIONS = {
    "departures": N_("Departures"),
    "claims": N_("Help alerts: time to be taken"),
    "home": N_("Home after leaving"),
}
MEASURES = {
    "planned": N_("signed up for it"),
    "left": N_("people who left"),
    "home": N_("people home"),
    "claimed": N_("alerts taken"),
    "unclaimed": N_("alerts never taken"),
    "median": N_("median (minutes)"),
    "longest": N_("longest (minutes)"),
    "people_home": N_("people home"),
    "no_news": N_("never said they were home"),
    "in_hour": N_("got home in this hour"),
}
COLUMNS = (N_("Section"), N_("Detail"), N_("Measure"), N_("Value"))


def report_rows(t: Translator, found: Report, zone: str) -> list[list[str]]:
    """The report as rows of (section, detail, measure, value): anonymous, in her language."""
    _ = t.gettext
    rows: list[list[str]] = []
    departures = _(SECTIONS["departures"])
    for wave in found.waves:
        when = t.time(wave.departs_at, zone)
        for key in ("planned", "left", "home"):
            rows.append([departures, when, _(MEASURES[key]), str(getattr(wave, key))])
    claims = _(SECTIONS["claims"])
    rows.append([claims, "", _(MEASURES["claimed"]), str(len(found.claim_minutes))])
    rows.append([claims, "", _(MEASURES["unclaimed"]), str(found.unclaimed)])
    if found.claim_minutes:
        rows.append([claims, "", _(MEASURES["median"]), _median(found.claim_minutes)])
        rows.append([claims, "", _(MEASURES["longest"]), str(found.claim_minutes[-1])])
    home = _(SECTIONS["home"])
    rows.append([home, "", _(MEASURES["people_home"]), str(len(found.home_minutes))])
    rows.append([home, "", _(MEASURES["no_news"]), str(found.no_news)])
    if found.home_minutes:
        rows.append([home, "", _(MEASURES["median"]), _median(found.home_minutes)])
        rows.append([home, "", _(MEASURES["longest"]), str(found.home_minutes[-1])])
    for hour, count in found.home_by_hour:
        rows.append([home, t.time(hour, zone), _(MEASURES["in_hour"]), str(count)])
    return rows


def _median(values: list[int]) -> str:
    value = statistics.median(values)
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def report_csv(t: Translator, found: Report, zone: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t.gettext(column) for column in COLUMNS])
    writer.writerows(report_rows(t, found, zone))
    return out.getvalue()


def report_filename(event: Event) -> str:
    return f"night-report-{event.id}-{event.doors_open.date().isoformat()}.csv"
