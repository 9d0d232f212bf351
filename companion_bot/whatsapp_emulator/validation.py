"""What Meta checks in a message body before it accepts it, for the kinds the bot sends:
text, image, audio and document (by link or id), location, template, and interactive reply
buttons, lists and location requests. An unknown key, a missing one, a wrong type or a value
past Meta's limits gets the error Meta gives (100, 131008 or 131009, with details), so a
renderer that breaks a limit fails in the tests as it would in production.

Lengths count characters (Python's len); Meta's limits:
text 4096; interactive body 1024, footer 60, header text 60; reply buttons 1-3, id 256,
title 20, ids and titles distinct; list button 20, sections 1-10 (titles 24, needed when
there are several), rows 1-10 in all, row id 200 (distinct), title 24, description 72;
image and document caption 1024; template parameters without new lines, tabs or 4 spaces in a row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import MetaError, invalid_parameter, invalid_value, missing_parameter

TEXT = 4096
BODY = 1024
FOOTER = 60
HEADER = 60
BUTTONS = 3
BUTTON_ID = 256
BUTTON_TITLE = 20
LIST_BUTTON = 20
SECTIONS = 10
SECTION_TITLE = 24
ROWS = 10
ROW_ID = 200
ROW_TITLE = 24
ROW_DESCRIPTION = 72
CAPTION = 1024
KINDS = ("text", "image", "audio", "document", "location", "template", "interactive")
MEDIA_KINDS = ("image", "audio", "document")
_PHONE = re.compile(r"^\+?\d{6,15}$")


def _keys(value: Mapping[str, Any], where: str, required: Iterable[str], optional=()) -> None:
    required = tuple(required)
    for key in value:
        if key not in required and key not in optional:
            raise invalid_parameter(f'Unexpected key "{key}" on param "{where}".')
    for key in required:
        if key not in value:
            raise missing_parameter(f'The parameter {where}["{key}"] is required.')


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid_parameter(f'Param "{where}" must be a JSON object.')
    return value


def _string(value: object, where: str, limit: int, *, minimum: int = 1) -> str:
    if not isinstance(value, str):
        raise invalid_parameter(f'Param "{where}" must be a string.')
    if not minimum <= len(value) <= limit:
        raise invalid_value(f"{where} length invalid. Min length: {minimum}, Max length: {limit}")
    return value


def _number(value: object, where: str, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise invalid_value(f"{where} must be a number from {low} to {high}.")


def check(body: Mapping[str, Any]) -> tuple[str, str]:
    """The recipient and kind of a valid body, or the `MetaError` Meta answers."""
    body = _object(body, "message")
    if body.get("messaging_product") != "whatsapp":
        raise invalid_parameter(
            'The parameter messaging_product is required and must be "whatsapp".'
        )
    kind = body.get("type", "text")
    if kind not in KINDS:
        raise invalid_parameter(f'Param "type" must be one of {{{", ".join(KINDS)}}}.')
    _keys(
        body,
        "message",
        ("messaging_product", "to", kind),
        ("recipient_type", "type", "context", "biz_opaque_callback_data"),
    )
    to = body["to"]
    if not isinstance(to, str) or not _PHONE.match(to):
        raise invalid_parameter('Param "to" must be a phone number (digits).')
    if body.get("recipient_type", "individual") != "individual":
        raise invalid_parameter('Param "recipient_type" must be "individual".')
    CHECKS[kind](_object(body[kind], kind))
    return to.lstrip("+"), kind


def _text(text: Mapping[str, Any]) -> None:
    _keys(text, "text", ("body",), ("preview_url",))
    _string(text["body"], "text.body", TEXT)
    if not isinstance(text.get("preview_url", False), bool):
        raise invalid_parameter('Param "text.preview_url" must be a boolean.')


def _media(kind: str, optional: tuple[str, ...]) -> Callable[[Mapping[str, Any]], None]:
    def check_media(media: Mapping[str, Any]) -> None:
        _keys(media, kind, (), ("link", "id", *optional))
        if ("link" in media) == ("id" in media):
            raise invalid_parameter(f"{kind}: exactly one of link and id is required.")
        if "link" in media and not re.match(r"^https?://\S+$", str(media["link"])):
            raise invalid_value(f"{kind}.link must be an http(s) URL.")
        if "id" in media:
            _string(media["id"], f"{kind}.id", 64)
        if "caption" in media:
            _string(media["caption"], f"{kind}.caption", CAPTION)
        if "filename" in media:
            _string(media["filename"], f"{kind}.filename", 240)

    return check_media


def _location(location: Mapping[str, Any]) -> None:
    _keys(location, "location", ("latitude", "longitude"), ("name", "address"))
    _number(location["latitude"], "location.latitude", -90, 90)
    _number(location["longitude"], "location.longitude", -180, 180)
    for key in ("name", "address"):
        if key in location:
            _string(location[key], f"location.{key}", 1000)


def _template(template: Mapping[str, Any]) -> None:
    _keys(template, "template", ("name", "language"), ("components",))
    _string(template["name"], "template.name", 512)
    language = _object(template["language"], "template.language")
    _keys(language, "template.language", ("code",), ("policy",))
    _string(language["code"], "template.language.code", 10)
    components = template.get("components", [])
    if not isinstance(components, list):
        raise invalid_parameter('Param "template.components" must be an array.')
    for component in components:
        component = _object(component, "template.components")
        _keys(component, "template.components", ("type",), ("parameters", "sub_type", "index"))
        for parameter in component.get("parameters", []):
            parameter = _object(parameter, "template.components.parameters")
            _keys(parameter, "template.components.parameters", ("type",), ("text", "payload"))
            text = parameter.get("text")
            if parameter["type"] == "text":
                _string(text, "template.components.parameters.text", 32768)
                if re.search(r"[\n\t]| {4}", text):
                    raise MetaError(
                        132018,
                        "There was an issue with the parameters in your template",
                        "Param text cannot have new-line/tab characters or more than 4 "
                        "consecutive spaces",
                    )


def template_params(template: Mapping[str, Any]) -> list[str]:
    """The body parameters of a valid template message."""
    for component in template.get("components", []):
        if component.get("type") == "body":
            return [p.get("text", "") for p in component.get("parameters", [])]
    return []


def _distinct(values: list[str], what: str) -> None:
    if len(set(values)) != len(values):
        raise invalid_value(f"{what} must be unique.")


def _interactive(interactive: Mapping[str, Any]) -> None:
    kind = interactive.get("type")
    if kind not in ("button", "list", "location_request_message"):
        raise invalid_parameter(
            'Param "interactive.type" must be one of {button, list, location_request_message}.'
        )
    optional = ("header", "footer") if kind != "location_request_message" else ()
    _keys(interactive, "interactive", ("type", "body", "action"), optional)
    body = _object(interactive["body"], "interactive.body")
    _keys(body, "interactive.body", ("text",))
    _string(body["text"], "interactive.body.text", BODY)
    if "footer" in interactive:
        footer = _object(interactive["footer"], "interactive.footer")
        _keys(footer, "interactive.footer", ("text",))
        _string(footer["text"], "interactive.footer.text", FOOTER)
    if "header" in interactive:
        header = _object(interactive["header"], "interactive.header")
        _keys(header, "interactive.header", ("type", "text"))
        _string(header["text"], "interactive.header.text", HEADER)
    action = _object(interactive["action"], "interactive.action")
    if kind == "button":
        _buttons(action)
    elif kind == "list":
        _list(action)
    else:
        _keys(action, "interactive.action", ("name",))
        if action["name"] != "send_location":
            raise invalid_value('interactive.action.name must be "send_location".')


def _buttons(action: Mapping[str, Any]) -> None:
    _keys(action, "interactive.action", ("buttons",))
    buttons = action["buttons"]
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS:
        raise invalid_value(f"Buttons count invalid. Min: 1, Max: {BUTTONS}")
    ids, titles = [], []
    for button in buttons:
        button = _object(button, "interactive.action.buttons")
        _keys(button, "interactive.action.buttons", ("type", "reply"))
        if button["type"] != "reply":
            raise invalid_value('interactive.action.buttons.type must be "reply".')
        reply = _object(button["reply"], "interactive.action.buttons.reply")
        _keys(reply, "interactive.action.buttons.reply", ("id", "title"))
        ids.append(_string(reply["id"], "Button id", BUTTON_ID))
        titles.append(_string(reply["title"], "Button title", BUTTON_TITLE))
    _distinct(ids, "Button ids")
    _distinct(titles, "Button titles")


def _list(action: Mapping[str, Any]) -> None:
    _keys(action, "interactive.action", ("button", "sections"))
    _string(action["button"], "List button", LIST_BUTTON)
    sections = action["sections"]
    if not isinstance(sections, list) or not 1 <= len(sections) <= SECTIONS:
        raise invalid_value(f"Sections count invalid. Min: 1, Max: {SECTIONS}")
    ids = []
    for section in sections:
        section = _object(section, "interactive.action.sections")
        _keys(section, "interactive.action.sections", ("rows",), ("title",))
        if "title" in section:
            _string(section["title"], "Section title", SECTION_TITLE)
        elif len(sections) > 1:
            raise missing_parameter("Section title is required when there are several sections.")
        rows = section["rows"]
        if not isinstance(rows, list) or not rows:
            raise invalid_value("Rows count invalid. Min: 1")
        for row in rows:
            row = _object(row, "interactive.action.sections.rows")
            _keys(row, "interactive.action.sections.rows", ("id", "title"), ("description",))
            ids.append(_string(row["id"], "Row id", ROW_ID))
            _string(row["title"], "Row title", ROW_TITLE)
            if "description" in row:
                _string(row["description"], "Row description", ROW_DESCRIPTION)
    if len(ids) > ROWS:
        raise invalid_value(f"Total row count exceed max allowed count: {ROWS}")
    _distinct(ids, "Row ids")


CHECKS = {
    "text": _text,
    "image": _media("image", ("caption",)),
    "audio": _media("audio", ()),
    "document": _media("document", ("caption", "filename")),
    "location": _location,
    "template": _template,
    "interactive": _interactive,
}
