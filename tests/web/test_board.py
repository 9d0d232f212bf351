"""The organizers' live board over HTTP: only the secret link opens it (everything else is
the same 404), what it shows of a night in progress (display names, never Telegram ids), its
languages, its live state, a purged event's statistics, the QR codes and the CSV export."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from companion_bot.models import Event, HelpAlert, HelpStatus, Unplaced
from companion_bot.services import board, closing, lifecycle
from companion_bot.services.events import InviteKind
from companion_bot.telegram_links import event_links
from companion_bot.web import create_app
from tests.qr_decoding import decode_qr
from tests.support import BotHarness
from tests.web.seed import ATTENDEES, Night, seed_night


@pytest_asyncio.fixture
async def client(harness: BotHarness) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(harness.application, harness.settings))) as c:
        yield c


@pytest_asyncio.fixture
async def night(event: Event) -> Night:
    seeded = await seed_night(event)
    await board.board_token(seeded.event)
    return seeded


def base(night: Night) -> str:
    return f"/board/{night.event.board_token}"


async def get_state(client: TestClient, night: Night, lang: str = "en") -> dict:
    response = await client.get(f"{base(night)}/state.json", params={"lang": lang})
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    return await response.json()


def members_by_name(state: dict) -> dict[str, tuple[str, str]]:
    return {
        member["name"]: (member["state"], member["label"])
        for wave in state["waves"]
        for group in wave["groups"]
        for member in group["members"]
    }


async def test_the_token_is_made_once_and_kept(event: Event) -> None:
    first = await board.board_token(event)
    again = await board.board_token(await Event.get(id=event.id))
    assert first == again and len(first) >= 32


async def test_state_of_a_night_in_progress(client: TestClient, night: Night) -> None:
    state = await get_state(client, night)
    assert state["counts"] == {
        "signed_up": 7, "departure_grouped": 6, "arrival_grouped": 0, "unplaced": 1,
        "open_alerts": 2,
    }  # fmt: skip
    assert [wave["time"] for wave in state["waves"]] == ["03:00", "06:00"]
    assert [wave["point"] for wave in state["waves"]] == ["Main entrance", "Back door"]
    first = {count["key"]: count["value"] for count in state["waves"][0]["counts"]}
    assert first == {"signed_up": 4, "grouped": 4, "at_meeting_point": 1, "left": 2, "home": 1,
                     "no_news": 0}  # fmt: skip
    assert members_by_name(state) == {
        "Alice": ("waiting", "not there yet"),
        "Béatrice": ("at_point", "at the meeting point"),
        "Chloé": ("left", "left"),
        "Dounia": ("home", "home"),
        "Emma": ("waiting", "not there yet"),
        "Fatou": ("no_news", "no news"),
    }
    left_group = state["waves"][0]["groups"][1]
    assert left_group["left"] and "confirmed by Zoé" in left_group["note"]
    alerts = {alert["name"]: alert for alert in state["alerts"]}
    assert alerts["Emma"]["level"] == "harassed" and alerts["Emma"]["claim"] == "Taken by Zoé"
    assert alerts["Gaëlle"]["level"] == "danger" and not alerts["Gaëlle"]["claimed"]
    assert alerts["Gaëlle"]["since"] == "0 minutes ago"


async def test_no_telegram_id_nor_alert_text_reaches_the_board(
    client: TestClient, night: Night
) -> None:
    page = await (await client.get(base(night), params={"lang": "en"})).text()
    state = await (await client.get(f"{base(night)}/state.json")).text()
    for text in (page, state):
        for telegram_id in night.telegram_ids:
            assert str(telegram_id) not in text
        assert "ex is here" not in text
        for registration in night.registrations.values():
            assert f'"id": {registration.id}' not in text


async def test_the_page_renders_translated_and_self_contained(
    client: TestClient, night: Night
) -> None:
    response = await client.get(
        base(night), headers={"Accept-Language": "de-DE, en;q=0.8, fr;q=0.5"}
    )
    assert response.status == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    page = await response.text()
    assert '<html lang="en">' in page
    assert "Nuit Compagnonnes" in page and "open help alerts" in page
    # Nothing from another site: scripts, styles and images are all ours.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for asset in ("assets/board.css", "assets/board.js"):
        assert f'"{asset}"' in page
        served = await client.get(f"/board/{asset}")
        assert served.status == 200
    initial = re.search(r'<script type="application/json" id="initial-state">(.*?)</script>',
                        page, re.S)  # fmt: skip
    assert json.loads(initial.group(1))["counts"]["signed_up"] == 7

    french = await (await client.get(base(night), headers={"Accept-Language": "fr-BE"})).text()
    assert '<html lang="fr">' in french and "alertes d’aide ouvertes" in french
    forced = await (await client.get(base(night), params={"lang": "en"},
                                     headers={"Accept-Language": "fr"})).text()  # fmt: skip
    assert '<html lang="en">' in forced
    state = await get_state(client, night, lang="fr")
    assert members_by_name(state)["Dounia"] == ("home", "rentrée")


def count_classes(page: str) -> dict[str, set[str]]:
    """The classes of each count's box on the page, by count."""
    found = re.findall(r'<div class="([^"]*)"><span class="number" data-count="(\w+)"', page)
    return {key: set(classes.split()) for classes, key in found}


async def test_counts_are_coloured_only_when_not_zero(client: TestClient, night: Night) -> None:
    page = await (await client.get(base(night), params={"lang": "en"})).text()
    classes = count_classes(page)
    assert "warn" in classes["unplaced"] and "alert" in classes["open_alerts"]  # 1 and 2
    await HelpAlert.filter(event=night.event).update(status=HelpStatus.CLOSED)
    await Unplaced.filter(event=night.event).delete()
    page = await (await client.get(base(night), params={"lang": "en"})).text()
    classes = count_classes(page)
    assert classes["unplaced"] == classes["open_alerts"] == {"count"}, classes


async def test_the_board_in_dutch(client: TestClient, night: Night) -> None:
    """A Dutch-speaking browser (Brussels), or ?lang=nl: the page, its live state and its
    export in Dutch, with Dutch among the languages offered."""
    brussels = {"Accept-Language": "nl-BE,nl;q=0.9,fr;q=0.5"}
    page = await (await client.get(base(night), headers=brussels)).text()
    assert '<html lang="nl">' in page
    for text in (
        "open hulpoproepen",
        "op een groep",  # wacht (one) or wachten (more)
        "Hulpoproepen",
        "Vertrekken",
        "Live-overzicht — Nuit Compagnonnes",
        "Anonieme statistieken downloaden (CSV)",
    ):
        assert text in page, text
    languages = re.search(r'<nav class="languages"[^>]*>(.*?)</nav>', page, re.S).group(1)
    assert re.findall(r'hreflang="(\w+)"', languages) == ["fr", "en", "nl"]
    assert 'lang="nl" aria-current="true">Nederlands</a>' in languages

    state = await get_state(client, night, lang="nl")
    assert members_by_name(state)["Dounia"] == ("home", "thuis")
    assert members_by_name(state)["Alice"] == ("waiting", "nog niet aangekomen")
    alerts = {alert["name"]: alert for alert in state["alerts"]}
    assert alerts["Emma"]["claim"] == "Zoé is ermee bezig"
    assert alerts["Gaëlle"]["claim"] == "Nog niemand heeft het op zich genomen"
    assert alerts["Gaëlle"]["since"] == "0 minuten geleden"

    export = await client.get(f"{base(night)}/export.csv", params={"lang": "nl"})
    assert (await export.read()).decode("utf-8-sig").splitlines()[0] == (
        "rubriek,detail,meting,waarde"
    )


async def test_a_display_name_cannot_break_out_of_the_page(
    client: TestClient, night: Night
) -> None:
    nasty = "</script><img src=x onerror=alert(1)>"
    person = await night.registrations["Alice"].person
    person.display_name = nasty
    await person.save(update_fields=["display_name"])
    page = await (await client.get(base(night), params={"lang": "en"})).text()
    assert "<img src=x" not in page and page.count("</script>") == 2  # board.js's and the JSON's
    initial = re.search(r'id="initial-state">(.*?)</script>', page, re.S).group(1)
    assert nasty in members_by_name(json.loads(initial))
    page = await (
        await client.get(base(night), headers={"Accept-Language": "fr;q=0, en;q=0.5"})
    ).text()
    assert '<html lang="en">' in page


async def test_the_state_follows_the_night(client: TestClient, night: Night) -> None:
    alice = night.registrations["Alice"]
    await closing.at_meeting_point(ATTENDEES["Alice"][0], alice.id)
    assert members_by_name(await get_state(client, night))["Alice"][0] == "at_point"
    await closing.home(ATTENDEES["Emma"][0], night.registrations["Emma"].id)
    state = await get_state(client, night)
    assert members_by_name(state)["Emma"][0] == "home"
    second = {count["key"]: count["value"] for count in state["waves"][1]["counts"]}
    assert second["home"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/board/{unknown}", "/board/{unknown}/state.json", "/board/{unknown}/qr/attendee.png",
        "/board/{unknown}/export.csv", "/board/{attendee_code}", "/board/{volunteer_code}",
        "/board/{organizer_code}", "/board/{short}", "/board/{token}/qr/organizer.png",
        "/board/{token_upper}", "/board/%20{token}",
    ],
)  # fmt: skip
async def test_only_the_token_opens_the_board(client: TestClient, night: Night, path) -> None:
    event = night.event
    url = path.format(
        unknown="x" * 32, short="abc", token=event.board_token,
        token_upper=event.board_token.swapcase(), attendee_code=event.attendee_code,
        volunteer_code=event.volunteer_code, organizer_code=event.organizer_code,
    )  # fmt: skip
    response = await client.get(url, params={"lang": "en"})
    assert response.status == 404
    body = await response.text()
    assert "Page not found" in body
    assert "Nuit Compagnonnes" not in body and "Alice" not in body
    unknown = await client.get(f"/board/{'y' * 32}", params={"lang": "en"})
    assert body == await unknown.text()  # the same page, whatever was wrong


async def test_qr_codes_decode_to_the_links(
    client: TestClient, night: Night, harness: BotHarness
) -> None:
    links = event_links(night.event, harness.application.bot.username)
    for kind in (InviteKind.ATTENDEE, InviteKind.VOLUNTEER):
        response = await client.get(f"{base(night)}/qr/{kind.value}.png")
        assert response.status == 200 and response.content_type == "image/png"
        assert decode_qr(await response.read()) == links[kind]


async def test_the_csv_export_has_counts_and_no_personal_data(
    client: TestClient, night: Night
) -> None:
    await lifecycle.record_followup(ATTENDEES["Alice"][0], night.event.id, "yes", "yes",
                                    "Chloé was rude to me", contact=True)  # fmt: skip
    response = await client.get(f"{base(night)}/export.csv", params={"lang": "en"})
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    text = (await response.read()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "detail", "measure", "value"]
    values = {
        (section, detail, measure): int(value) for section, detail, measure, value in rows[1:]
    }
    assert values[("Totals", "", "signed up")] == 7
    assert values[("Departure", "03:00 Main entrance", "home safe")] == 1
    assert values[("Departure", "06:00 Back door", "no news")] == 1
    assert values[("Group sizes", "departure groups", "2 people")] == 3
    assert values[("Help alerts", "", "🚨 I'm in danger")] == 1
    assert values[("Morning-after answers", "Did your group meet?", "Yes")] == 1
    assert values[("Morning-after answers", "", "written reports (not exported)")] == 1
    assert_anonymous(text, night)

    french = await client.get(f"{base(night)}/export.csv", params={"lang": "fr"})
    french = (await french.read()).decode("utf-8-sig")
    assert french.splitlines()[0] == "rubrique,détail,mesure,valeur"


def assert_anonymous(text: str, night: Night) -> None:
    for name in [*ATTENDEES, "Zoé", "Orga"]:
        assert name not in text, name
    for telegram_id in night.telegram_ids:
        assert str(telegram_id) not in text
    assert "rude" not in text


async def test_a_purged_event_shows_only_statistics(client: TestClient, night: Night) -> None:
    await lifecycle.purge_event(night.event.id)
    state = await get_state(client, night)
    assert state["purged"] is True and "waves" not in state
    rows = {
        (section, detail, measure): value for section, detail, measure, value in state["statistics"]
    }
    assert rows[("Totals", "", "signed up")] == 7
    assert rows[("Departure", "03:00 Main entrance", "departed")] == 2
    page = await (await client.get(base(night), params={"lang": "en"})).text()
    assert "Anonymous statistics" in page and "assets/board.js" in page
    assert_anonymous(page, night)
    assert_anonymous(json.dumps(state, ensure_ascii=False), night)
    assert (await client.get(f"{base(night)}/qr/attendee.png")).status == 404
    export = await client.get(f"{base(night)}/export.csv", params={"lang": "en"})
    text = (await export.read()).decode("utf-8-sig")
    assert "Departure,03:00 Main entrance,signed up,4" in text
    assert_anonymous(text, night)
