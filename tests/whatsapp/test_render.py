"""Notices rendered for WhatsApp: buttons, lists, split lists, long texts, formatting, titles
within Meta's limits, and button ids signed for her alone. Every body rendered here also
passes the emulator's checks of Meta's limits (`check`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion_bot.whatsapp.formatting import distinct_titles, graphemes, to_whatsapp, width
from companion_bot.whatsapp.render import parse_choice, render
from companion_bot.whatsapp_emulator.validation import check
from tests.whatsapp.conftest import SECRET

TO = "33612345678"


def rendered(notice: dict, language: str = "en", to: str = TO) -> list[dict]:
    bodies = render(notice, to, language, secret=SECRET)
    for body in bodies:
        assert check(body) == (to, body["type"])  # within Meta's limits
    return bodies


def choices(count: int, label: str = "Choice {n}") -> list[list[list[str]]]:
    return [[[label.format(n=n), f"act:{n}"]] for n in range(count)]


def actions_of(body: dict) -> list[str | None]:
    interactive = body["interactive"]
    if interactive["type"] == "button":
        ids = [b["reply"]["id"] for b in interactive["action"]["buttons"]]
    else:
        ids = [r["id"] for s in interactive["action"]["sections"] for r in s["rows"]]
    return [parse_choice(TO, reply_id, SECRET) for reply_id in ids]


def test_a_plain_text_is_one_text_message():
    [body] = rendered({"kind": "text", "text": "Hello <b>Marie</b>"})
    assert body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
                    "type": "text", "text": {"body": "Hello *Marie*"}}  # fmt: skip


@pytest.mark.parametrize("count", [1, 2, 3])
def test_up_to_three_choices_are_reply_buttons(count):
    notice = {"kind": "text", "text": "Which language?", "choices": choices(count)}
    [body] = rendered(notice)
    interactive = body["interactive"]
    assert interactive["type"] == "button" and interactive["body"]["text"] == "Which language?"
    assert [b["reply"]["title"] for b in interactive["action"]["buttons"]] == [
        f"Choice {n}" for n in range(count)]  # fmt: skip
    assert actions_of(body) == [f"act:{n}" for n in range(count)]


def test_rows_of_buttons_are_read_in_order():
    notice = {"kind": "text", "text": "?", "choices": [[["A", "a"], ["B", "b"]], [["C", "c"]]]}
    assert actions_of(rendered(notice)[0]) == ["a", "b", "c"]


@pytest.mark.parametrize(("language", "label"), [("en", "Choose"), ("fr", "Choisir"),
                                                 ("nl", "Kiezen")])  # fmt: skip
def test_four_to_ten_choices_are_a_list_with_a_translated_button(language, label):
    notice = {"kind": "text", "text": "Your neighbourhood?", "choices": choices(10)}
    [body] = rendered(notice, language)
    interactive = body["interactive"]
    assert interactive["type"] == "list" and interactive["action"]["button"] == label
    assert interactive["body"]["text"] == "Your neighbourhood?"
    assert actions_of(body) == [f"act:{n}" for n in range(10)]


def test_more_than_ten_choices_are_split_into_lists():
    notice = {"kind": "text", "text": "Where to?", "choices": choices(23)}
    bodies = rendered(notice, "fr")
    assert [len(actions_of(body)) for body in bodies] == [10, 10, 3]
    assert [b["interactive"]["body"]["text"] for b in bodies] == [
        "Where to?", "Autres choix", "Autres choix"]  # fmt: skip
    assert [a for b in bodies for a in actions_of(b)] == [f"act:{n}" for n in range(23)]


def test_a_long_text_goes_first_then_the_buttons_with_a_short_line():
    long = "Bienvenue. " * 120  # 1320 characters
    bodies = rendered({"kind": "text", "text": long, "choices": choices(2)}, "fr")
    assert [b["type"] for b in bodies] == ["text", "interactive"]
    assert bodies[0]["text"]["body"] == long.strip()
    assert bodies[1]["interactive"]["body"]["text"] == "Choisis ci-dessous."
    huge = "\n".join(["Une ligne de la charte."] * 400)  # over 4096: in parts
    parts = rendered({"kind": "text", "text": huge})
    assert len(parts) == 3 and all(len(p["text"]["body"]) <= 4096 for p in parts)
    assert "\n".join(p["text"]["body"] for p in parts) == huge


def test_labels_are_shortened_distinct_and_keep_emoji_whole():
    labels = ["📍 I'm at the meeting point", "⏰ I'm leaving later", "🚪 I've already left"]
    [body] = rendered(
        {
            "kind": "text",
            "text": "Now?",
            "choices": [[[label, f"cl:{n}"]] for n, label in enumerate(labels)],
        }
    )
    # A button would cut "I'm at the meeting point": a list, whose rows show it whole.
    rows = body["interactive"]["action"]["sections"][0]["rows"]
    assert [row["title"] for row in rows] == [
        "📍 I'm at the meeting…", "⏰ I'm leaving later", "🚪 I've already left"
    ]  # fmt: skip
    assert rows[0]["description"] == "📍 I'm at the meeting point"
    assert all(width(row["title"]) <= 24 for row in rows)
    short = [["⏰ I'm leaving later", "cl:later"], ["🚪 I've already left", "cl:gone"]]
    [body] = rendered({"kind": "text", "text": "Now?", "choices": [short]})
    titles = [b["reply"]["title"] for b in body["interactive"]["action"]["buttons"]]
    assert titles == ["⏰ I'm leaving later", "🚪 I've already left"]  # they fit: buttons
    long_rows = [[[f"Meeting point at 23:{n}0 near the bar", f"mp:{n}"]] for n in range(5)]
    [body] = rendered({"kind": "text", "text": "Where?", "choices": long_rows})
    rows = body["interactive"]["action"]["sections"][0]["rows"]
    assert len({row["title"] for row in rows}) == 5
    assert rows[0]["description"] == "Meeting point at 23:00 near the bar"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40).filter(str.strip), min_size=1, max_size=10))
def test_any_labels_give_distinct_titles_within_the_limit(labels):
    titles = distinct_titles(labels, 20)
    assert len(set(titles)) == len(titles)
    for label, title in zip(labels, titles, strict=True):
        assert 0 < width(title) <= 20
        # Never a piece of an emoji: every character cluster of the title is one of the label's
        # (or the ellipsis or a number added to keep titles apart).
        clusters = set(graphemes(" ".join(label.split())))
        assert set(graphemes(title)) <= clusters | set("… 0123456789")


def test_a_combining_mark_never_joins_the_ellipsis():
    titles = distinct_titles(["0000000000000\r0𐀀𐀀𐀀", "0000000000000\rৢ𐀀𐀀𐀀"], 20)
    assert len(set(titles)) == 2 and not any("…ৢ" in title for title in titles)


def test_a_signed_id_is_hers_alone():
    [body] = rendered({"kind": "text", "text": "?", "choices": [[["I'm home", "cl:home:7"]]]})
    reply_id = body["interactive"]["action"]["buttons"][0]["reply"]["id"]
    assert parse_choice(TO, reply_id, SECRET) == "cl:home:7"
    assert parse_choice("33600000000", reply_id, SECRET) is None  # someone else taps it
    assert parse_choice(TO, reply_id.replace(":7", ":8"), SECRET) is None  # forged
    assert parse_choice(TO, "cl:home:7", SECRET) is None  # unsigned
    assert parse_choice(TO, None, SECRET) is None
    assert parse_choice(TO, reply_id, b"o" * 32) is None  # another bot's key


def test_formatting():
    html = ("<b>Bold </b><i>it</i> <u>under</u> <s>gone</s> <code>a*b</code>\n"
            "<pre>line 1\nline 2</pre> <a href=\"https://example.org\">the site</a> "
            "<a href=\"https://x.org\">https://x.org</a> &lt;3 &amp; &gt; "
            "<b><i>both</i></b> <b> </b>")  # fmt: skip
    assert to_whatsapp(html) == (
        "*Bold* _it_ under ~gone~ ```a*b```\n```line 1\nline 2``` the site (https://example.org)"
        " https://x.org <3 & > *_both_*  "
    )
    assert to_whatsapp("<b>unclosed") == "*unclosed*"
    assert to_whatsapp("stray</i> end") == "stray end"


def test_ask_location_locations_photos_and_templates():
    bodies = rendered({"kind": "text", "text": "Where are you?", "ask_location": True,
                       "choices": [[["Skip", "loc:skip"]]]}, "fr")  # fmt: skip
    assert [b["interactive"]["type"] for b in bodies] == ["location_request_message", "button"]
    assert bodies[0]["interactive"]["body"]["text"] == "Where are you?"
    assert bodies[0]["interactive"]["action"] == {"name": "send_location"}
    assert bodies[1]["interactive"]["body"]["text"] == "Choisis ci-dessous."
    [pin] = rendered({"kind": "location", "latitude": 48.85, "longitude": 2.35, "name": "Bar"})
    assert pin["location"] == {"latitude": 48.85, "longitude": 2.35, "name": "Bar"}
    [photo] = rendered({"kind": "photo", "link": "https://x.org/a.jpg", "caption": "<b>Us</b>"})
    assert photo["image"] == {"link": "https://x.org/a.jpg", "caption": "*Us*"}
    image, caption = rendered({"kind": "photo", "link": "https://x.org/a.jpg",
                               "caption": "x" * 1100})  # fmt: skip
    assert "caption" not in image["image"] and caption["text"]["body"] == "x" * 1100
    [template] = rendered({"kind": "template", "name": "wave_reminder", "language": "fr",
                           "params": ["La Nuit", "02:30", "le <b>vestiaire</b>\n"]})  # fmt: skip
    assert template["template"] == {
        "name": "wave_reminder", "language": {"code": "fr"},
        "components": [{"type": "body", "parameters": [
            {"type": "text", "text": "La Nuit"}, {"type": "text", "text": "02:30"},
            {"type": "text", "text": "le *vestiaire*"}]}],
    }  # fmt: skip
    with pytest.raises(ValueError):
        render({"kind": "poll"}, TO, "en")


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "Take care, and “help” if you need us. “me” shows it: wa.me/33/help"),
     ("fr", "Take care, and « aide » if you need us. « moi » shows it: wa.me/33/help"),
     ("nl", "Take care, and „hulp” if you need us. „ik” shows it: wa.me/33/help")],
)  # fmt: skip
def test_telegram_commands_become_her_words(language, expected):
    text = "Take care, and /help if you need us. /me shows it: wa.me/33/help"
    [body] = rendered({"kind": "text", "text": text}, language)
    assert body["text"]["body"] == expected


def test_an_action_longer_than_telegram_allows_is_signed_for_whatsapp():
    # A gazetteer id this long does not fit Telegram's 64 bytes once signed; WhatsApp's
    # ids hold it.
    action = "su:dest:place:fr-paris-bibliotheque-francois-mitterrand"
    [body] = rendered({"kind": "text", "text": "Where?", "choices": [[["BnF", action]]]})
    assert actions_of(body) == [action]


def test_uploaded_files_go_by_their_media_id():
    [image] = rendered({"kind": "photo", "id": "1234", "caption": "<b>Ada</b>: us"})
    assert image["image"] == {"id": "1234", "caption": "*Ada*: us"}
    name, audio = rendered({"kind": "voice", "id": "5678", "caption": "<b>Ada</b>:"})
    assert name["text"]["body"] == "*Ada*:" and audio["audio"] == {"id": "5678"}
    [audio] = rendered({"kind": "voice", "id": "5678"})
    assert audio["type"] == "audio"
    [document] = rendered({"kind": "document", "id": "9", "filename": "plan.pdf",
                           "caption": "<i>plan</i>"})  # fmt: skip
    assert document["document"] == {"id": "9", "filename": "plan.pdf", "caption": "_plan_"}


def test_what_she_sends_names_its_file_for_the_relay():
    from companion_bot.whatsapp.inbound import OTHER, read

    def sent(kind: str, content: dict) -> dict:
        return {"message": {"from": TO, "type": kind, kind: content}}

    image = read(sent("image", {"id": "77", "mime_type": "image/jpeg", "caption": "hi"}))
    assert (image.kind, image.caption) == (OTHER, "hi")
    assert image.media == {"channel": "whatsapp", "type": "photo", "ref": "77",
                           "mime_type": "image/jpeg"}  # fmt: skip
    voice = read(sent("audio", {"id": "78", "mime_type": "audio/ogg; codecs=opus"}))
    assert voice.media["type"] == "voice"
    document = read(sent("document", {"id": "79", "filename": "a.pdf"}))
    assert document.media["filename"] == "a.pdf"
    assert read(sent("sticker", {"id": "80"})).media is None
    assert read(sent("video", {"id": "81"})).media is None
    assert read(sent("image", {"caption": "no id"})).media is None
