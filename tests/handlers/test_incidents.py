"""The incident log (organizers' board only) and the anonymous morning-after report (board and
CSV): help alerts, the stages of "are you home?", reports and test alerts, in order."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer

from companion_bot.services import board
from companion_bot.web import create_app
from tests.handlers.test_escalation import ada_left, an_organizer
from tests.handlers.test_relay import ask_for_help, volunteer_on_duty
from tests.support import BotHarness


async def test_the_log_and_the_report_of_a_night(harness: BotHarness, event):
    orga = await an_organizer(harness, event)
    await harness.say(orga, "/testalert")  # nobody on duty yet: refused, not logged
    vic = await volunteer_on_duty(harness, event)
    await harness.say(orga, "/testalert")
    ada, bea, dana, registration = await ada_left(harness, event)
    left = registration.left_at
    await ask_for_help(harness, dana)
    await harness.tap(vic, "🙋 I'm on it")
    await harness.travel_to(left + timedelta(minutes=105, seconds=1))  # volunteers alerted
    await harness.tap(ada, "🏠 I'm home")
    await harness.drain()

    token = await board.board_token(event)
    async with TestClient(TestServer(create_app(harness.application, harness.settings))) as c:
        page = await (await c.get(f"/board/{token}", params={"lang": "en"})).text()
        response = await c.get(f"/board/{token}/report.csv", params={"lang": "fr"})
        assert response.status == 200
        assert "attachment" in response.headers["Content-Disposition"]
        download = (await response.read()).decode("utf-8-sig")
        assert (await c.get("/board/not-the-token/report.csv")).status == 404

    log = re.search(r'<ol class="incidents">(.*?)</ol>', page, re.S).group(1)
    kinds = [
        re.sub(r"<time>[^<]*</time> ", "", item) for item in re.findall(r"<li>(.*?)</li>", log)
    ]
    assert kinds == [
        "🧪 Test alert to the volunteers",
        "🆘 Help alert (😟 I feel uncomfortable): Dana",
        "🙋 Help alert of Dana taken by Vic",
        "❓ No news from Ada: her group asked",
        "⚠️ No news from Ada: volunteers alerted",
        "✅ All clear: Ada is safe",
    ], kinds
    assert 'aria-label="People who left, per departure"' in page
    assert "Night report (anonymous)" in page

    rows = list(csv.reader(io.StringIO(download)))
    assert rows[0] == ["Section", "Détail", "Mesure", "Valeur"]
    assert [
        "Alertes d'aide : délai de prise en charge",
        "",
        "alertes prises en charge",
        "1",
    ] in rows
    assert ["Retour à la maison après le départ", "", "personnes rentrées", "1"] in rows
    # Anonymous: no name, no Telegram id.
    for person in (ada, bea, dana, vic, orga):
        assert person.first_name not in download and str(person.id) not in download
