"""Telegram-HTML (what the core writes) to WhatsApp text, and short titles for buttons.

WhatsApp formats with markers: *bold*, _italic_, ~strike~, ```monospace```, "> " quotes; it
has no underline, no spoiler and no link text. Entities (&amp; &lt; &gt;) become their
characters. A marker only works against a non-space character, so the spaces inside an
element move outside its markers. WhatsApp has no escape for a literal "*" or "_": a text
that has them pairs them as Telegram would not; the core's texts do not.

Titles: reply buttons allow 20 characters, list rows 24. A longer label is cut on a word
where it can, never inside an emoji (a flag, a skin tone or a family stays whole), and the
titles of one message stay distinct. Lengths count UTF-16 units, the stricter of the ways a
length can be counted, so what fits here fits at Meta.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

ELLIPSIS = "…"
_MARKERS = {
    "b": "*", "strong": "*",
    "i": "_", "em": "_",
    "s": "~", "strike": "~", "del": "~",
    "code": "```", "pre": "```",
}  # fmt: skip


@dataclass
class _Element:
    tag: str
    href: str | None = None
    children: list[_Element | str] = field(default_factory=list)


class _TreeBuilder(HTMLParser):
    """Builds the element tree; tolerant: a stray end tag is ignored, an open one closed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("")
        self._open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, href=dict(attrs).get("href") if tag == "a" else None)
        self._open[-1].children.append(element)
        self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].children.append(data)


def _plain(element: _Element | str) -> str:
    if isinstance(element, str):
        return element
    return "".join(_plain(child) for child in element.children)


def _wrap(text: str, marker: str) -> str:
    """`marker` around the text, its leading and trailing spaces left outside."""
    core = text.strip()
    if not core:
        return text
    start = text.index(core)
    return f"{text[:start]}{marker}{core}{marker}{text[start + len(core) :]}"


def _render(element: _Element | str) -> str:
    if isinstance(element, str):
        return element
    if element.tag in ("code", "pre"):  # nothing is formatted inside monospace
        return _wrap(_plain(element), "```")
    inner = "".join(_render(child) for child in element.children)
    if element.tag in _MARKERS:
        return _wrap(inner, _MARKERS[element.tag])
    if element.tag == "a" and element.href:
        shown = inner.strip()
        if not shown or shown == element.href:
            return element.href
        return f"{inner} ({element.href})"
    if element.tag == "blockquote":
        return "\n".join(f"> {line}" for line in inner.strip("\n").split("\n"))
    return inner  # <u>, <tg-spoiler>, <span>…: the text alone


def to_whatsapp(html: str) -> str:
    """Telegram-HTML to WhatsApp text (see the module docstring)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return _render(builder.root)


# -- titles ------------------------------------------------------------------------------------


def width(text: str) -> int:
    """Length in UTF-16 units (an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def _joins_previous(char: str, previous: str) -> bool:
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char == "\u200d"
        or previous.endswith("\u200d")
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (emoji presentation)
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tags (subdivision flags)
        or code == 0x20E3  # keycap
    )


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def graphemes(text: str) -> list[str]:
    """The text cut into what a reader sees as one character each (emoji kept whole)."""
    clusters: list[str] = []
    for char in text:
        previous = clusters[-1] if clusters else ""
        pair = _regional(char) and len(previous) == 1 and _regional(previous)
        if previous and (pair or _joins_previous(char, previous)):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _head(clusters: Sequence[str], budget: int) -> str:
    """The longest start of the text within `budget` units, cut on a word when that keeps
    at least half of it; trailing spaces and punctuation dropped."""
    taken: list[str] = []
    for cluster in clusters:
        if width("".join(taken)) + width(cluster) > budget:
            break
        taken.append(cluster)
    text = "".join(taken)
    if len(taken) < len(clusters) and " " in text:
        word_end = text.rstrip().rfind(" ")
        if word_end >= budget // 2:
            text = text[:word_end]
    return text.rstrip(" ,;:-–—.")


def shorten(text: str, limit: int) -> str:
    """The text if it fits in `limit` units, else its start and "…"."""
    text = " ".join(text.split())
    if width(text) <= limit:
        return text
    return _head(graphemes(text), limit - width(ELLIPSIS)) + ELLIPSIS


def _candidates(label: str, limit: int) -> Iterator[str]:
    label = " ".join(label.split())
    if width(label) > limit:
        yield shorten(label, limit)
        # Then from a later word on, where labels of one list often differ ("Meeting point
        # at 23:00 near the bar", "… at 23:30 …"): "…at 23:00 near the…".
        words = label.split(" ")
        for start in range(1, len(words)):
            rest = shorten(" ".join(words[start:]), limit - width(ELLIPSIS))
            if rest and not _joins_previous(rest[0], ELLIPSIS):  # a mark would join the "…"
                yield ELLIPSIS + rest
    else:
        yield label
    for number in range(2, 100):
        suffix = f" {number}"
        yield shorten(label, limit - width(suffix)).rstrip("\u200d") + suffix


def distinct_titles(labels: Sequence[str], limit: int) -> list[str]:
    """A title within `limit` for each label, no two the same."""
    used: set[str] = set()
    titles = []
    for label in labels:
        title = next(c for c in _candidates(label, limit) if c and c not in used)
        used.add(title)
        titles.append(title)
    return titles


def split_text(text: str, limit: int) -> list[str]:
    """The text in parts of at most `limit` characters, cut at a line, else a space."""
    parts = []
    rest = text.strip()
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
