"""Formatted text the way Telegram parses it: plain text plus entities, or a 400 error.

Follows tdlib's rules closely enough to catch the usual bugs (an unescaped `<` in HTML, a
reserved `.` in MarkdownV2, an unclosed tag); offsets and lengths are in UTF-16 code units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape

from .models import ApiError, JSONDict, bad_request

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _parse_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


@dataclass
class _Builder:
    """Accumulates plain text and entities with UTF-16 offsets."""

    parts: list[str] = field(default_factory=list)
    offset: int = 0
    entities: list[JSONDict] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.offset += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: object) -> None:
        if self.offset > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.offset - start} | extra
            )

    def result(self) -> tuple[str, list[JSONDict]]:
        ordered = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), ordered


# ---------------------------------------------------------------------------------------- HTML

_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTRIBUTE = re.compile(r"""\s*([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_CHAR_REF = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|quot);")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    out = _Builder()
    stack: list[tuple[str, int, dict[str, str]]] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "&":
            match = _CHAR_REF.match(source, i)
            # Unknown named entities stay literal text, as in Telegram.
            out.add(unescape(match.group(0)) if match else "&")
            i = match.end() if match else i + 1
        elif char != "<":
            end = min(
                (p for p in (source.find("<", i), source.find("&", i)) if p != -1),
                default=len(source),
            )
            out.add(source[i:end])
            i = end
        elif source.startswith("</", i):
            i = _html_end_tag(source, i, stack, out)
        else:
            i = _html_start_tag(source, i, stack, out)
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _html_start_tag(
    source: str, i: int, stack: list[tuple[str, int, dict[str, str]]], out: _Builder
) -> int:
    name = _TAG_NAME.match(source, i + 1).group(0).lower()  # type: ignore[union-attr]
    at = _byte_offset(source, i)
    if name not in _HTML_ENTITY_TYPES:
        raise _parse_error(f'Unsupported start tag "{name}" at byte offset {at}')
    close = source.find(">", i)
    if close == -1:
        raise _parse_error(f"Unclosed start tag at byte offset {at}")
    attributes: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(source, i + 1 + len(name), close):
        if match.group(0).strip():
            value = next((g for g in match.groups()[1:] if g is not None), "")
            attributes[match.group(1).lower()] = unescape(value)
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise _parse_error('Tag "span" must have class "tg-spoiler"')
    stack.append((name, out.offset, attributes))
    return close + 1


def _html_end_tag(
    source: str, i: int, stack: list[tuple[str, int, dict[str, str]]], out: _Builder
) -> int:
    at = _byte_offset(source, i)
    close = source.find(">", i)
    if close == -1:
        raise _parse_error(f"Unclosed end tag at byte offset {at}")
    name = source[i + 2 : close].strip().lower()
    if not stack:
        raise _parse_error(f"Unexpected end tag at byte offset {at}")
    open_name, start, attributes = stack.pop()
    if name != open_name:
        raise _parse_error(
            f'Unmatched end tag at byte offset {at}, expected "</{open_name}>", found "</{name}>"'
        )
    _html_entity(open_name, start, attributes, stack, out)
    return close + 1


def _html_entity(
    name: str,
    start: int,
    attributes: dict[str, str],
    stack: list[tuple[str, int, dict[str, str]]],
    out: _Builder,
) -> None:
    kind = _HTML_ENTITY_TYPES[name]
    if kind == "text_link":
        href = attributes.get("href", "")
        if href:
            out.entity("text_link", start, url=href)
    elif kind == "custom_emoji":
        out.entity(kind, start, custom_emoji_id=attributes.get("emoji-id", ""))
    elif kind == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> gives the language to the enclosing pre.
        language = attributes.get("class", "").removeprefix("language-")
        if language:
            stack[-1][2]["language"] = language
    elif kind == "pre" and attributes.get("language"):
        out.entity("pre", start, language=attributes["language"])
    elif kind == "blockquote" and "expandable" in attributes:
        out.entity("expandable_blockquote", start)
    else:
        out.entity(kind, start)


# ---------------------------------------------------------------------------------- MarkdownV2

_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}
_URL_IN_PARENS = re.compile(r"((?:\\.|[^)\\])*)\)")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}


def parse_markdown_v2(source: str) -> tuple[str, list[JSONDict]]:
    out = _Builder()
    stack: list[tuple[str, int, int]] = []  # (marker, utf16 start, byte offset)
    quote_start: int | None = None
    i = 0
    while i < len(source):
        char = source[i]
        at_line_start = i == 0 or source[i - 1] == "\n"
        if char == "\\" and i + 1 < len(source) and 0 < ord(source[i + 1]) < 127:
            out.add(source[i + 1])
            i += 2
        elif char == ">" and at_line_start:
            quote_start = out.offset if quote_start is None else quote_start
            i += 1
        elif char == "`":
            i = _mdv2_code(source, i, out)
        elif char == "]" and stack and stack[-1][0] == "[":
            i = _mdv2_link_end(source, i, stack, out)
        elif char == "[":
            stack.append(("[", out.offset, _byte_offset(source, i)))
            i += 1
        elif source.startswith(("__", "||"), i) or char in "*_~":
            marker = source[i : i + 2] if source.startswith(("__", "||"), i) else char
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                out.entity(_MDV2_MARKERS[marker], start)
            else:
                stack.append((marker, out.offset, _byte_offset(source, i)))
            i += len(marker)
        elif char in _MDV2_RESERVED:
            raise _parse_error(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            if char == "\n" and quote_start is not None and not source.startswith(">", i + 1):
                out.entity("blockquote", quote_start)
                quote_start = None
            out.add(char)
            i += 1
    if stack:
        marker, _, at = stack[-1]
        name = "TextUrl" if marker == "[" else _MDV2_NAMES[_MDV2_MARKERS[marker]]
        raise _parse_error(f"Can't find end of {name} entity at byte offset {at}")
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    return out.result()


def _mdv2_code(source: str, i: int, out: _Builder) -> int:
    fence = "```" if source.startswith("```", i) else "`"
    j = i + len(fence)
    language = ""
    if fence == "```":
        newline = source.find("\n", j)
        first_line = source[j:newline] if newline != -1 else ""
        if newline != -1 and first_line and " " not in first_line:
            language, j = first_line, newline + 1
    start = out.offset
    while j < len(source) and not source.startswith(fence, j):
        if source[j] == "\\" and j + 1 < len(source):
            j += 1
        out.add(source[j])
        j += 1
    if j >= len(source):
        name = "Pre" if fence == "```" else "Code"
        raise _parse_error(
            f"Can't find end of {name} entity at byte offset {_byte_offset(source, i)}"
        )
    extra = {"language": language} if language else {}
    out.entity("pre" if fence == "```" else "code", start, **extra)
    return j + len(fence)


def _mdv2_link_end(source: str, i: int, stack: list[tuple[str, int, int]], out: _Builder) -> int:
    _, start, at = stack.pop()
    if not source.startswith("(", i + 1):
        raise _parse_error(f"Can't find end of TextUrl entity at byte offset {at}")
    url = _URL_IN_PARENS.match(source, i + 2)
    if url is None:
        raise _parse_error(f"Can't find end of TextUrl entity at byte offset {at}")
    out.entity("text_link", start, url=re.sub(r"\\(.)", r"\1", url.group(1)))
    return url.end()


# ------------------------------------------------------------------------------------ Markdown

_LEGACY_MARKERS = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}


def parse_markdown(source: str) -> tuple[str, list[JSONDict]]:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out = _Builder()
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source) and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
        elif char in "*_`[":
            i = _legacy_entity(source, i, out)
        else:
            out.add(char)
            i += 1
    return out.result()


def _legacy_entity(source: str, i: int, out: _Builder) -> int:
    marker = "```" if source.startswith("```", i) else source[i]
    closing = "]" if marker == "[" else marker
    end = source.find(closing, i + len(marker))
    if end == -1:
        raise _parse_error(
            f"Can't find end of the entity starting at byte offset {_byte_offset(source, i)}"
        )
    start = out.offset
    out.add(source[i + len(marker) : end])
    if marker != "[":
        out.entity(_LEGACY_MARKERS[marker], start)
        return end + len(marker)
    close = source.find(")", end) if source.startswith("(", end + 1) else -1
    if close == -1:
        return end + 1
    out.entity("text_link", start, url=source[end + 2 : close])
    return close + 1


# ------------------------------------------------------------------------------------- helpers


def _strip(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace as Telegram does, keeping entities aligned."""
    stripped = text.strip()
    if not stripped:
        return "", []
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    limit = utf16_len(stripped)
    kept = []
    for entity in entities:
        begin = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > begin:
            kept.append(entity | {"offset": begin, "length": end - begin})
    return stripped, kept


def format_text(
    source: str,
    parse_mode: str | None,
    entities: list[JSONDict] | None,
    *,
    caption: bool = False,
) -> tuple[str, list[JSONDict]]:
    """Return (plain text, entities) for a text or caption, or raise the 400 Telegram sends."""
    # Explicit entities win over parse_mode, as in Telegram.
    mode = "" if entities else (parse_mode or "").lower()
    if mode == "html":
        text, parsed = parse_html(source)
    elif mode == "markdownv2":
        text, parsed = parse_markdown_v2(source)
    elif mode == "markdown":
        text, parsed = parse_markdown(source)
    elif mode:
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    else:
        text, parsed = source, list(entities or [])
    text, parsed = _strip(text, parsed)
    if caption:
        if len(text) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
    elif not text:
        raise bad_request("message text is empty")
    elif len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return text, parsed
