"""One message catalogue for every language residents read: automatic alert texts and the resident page.

The catalogue is gettext ``.po`` files under ``locales/`` (one per language, ``ja.po`` is the source,
``en.po`` the second source), read at start with Babel, so translators work with the tools they know
(Poedit, Weblate) and nothing needs compiling at build time. A msgid is a stable key such as
``alert.lifted`` or ``level.4.action``; placeholders are ``{name}`` (python-brace-format).

``texts(msgid, **params)`` gives the text in every language as ``{lang: text}``, the shape notifications
store. A parameter is a plain string (the same in every language: place and river names stay Japanese),
a ``{lang: str}`` mapping (falls back to English, then Japanese), or a nested :class:`Msg` translated
in the same language. A language that lacks a msgid falls back to Japanese.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Union

from babel.messages.pofile import read_po

from pushsvc.types import LANGUAGES

__all__ = [
    "EASY_JAPANESE",
    "LANGUAGES",
    "SOURCE",
    "Msg",
    "Param",
    "catalogue",
    "fragment",
    "join",
    "listing",
    "msgids",
    "page_messages",
    "pick",
    "raw",
    "text",
    "texts",
]

LOCALES = Path(__file__).resolve().parent / "locales"
SOURCE = "ja"
# やさしい日本語 (easy Japanese): an operator may give it as a translation under this private-use tag; residents
# reading another language get it before standard Japanese when their own language was not given.
EASY_JAPANESE = "ja-x-easy"
# Languages written without spaces between sentences.
_NO_SPACE = frozenset({"ja", "zh-Hans", "zh-Hant"})
_SPACES = re.compile(r"[ \t]{2,}")

Param = Union[str, int, float, Mapping[str, str], "Msg"]


@dataclass(frozen=True)
class Msg:
    """A catalogue message not yet put into a language, for use as another message's parameter."""

    msgid: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __init__(self, msgid: str, **params: Param) -> None:
        object.__setattr__(self, "msgid", msgid)
        object.__setattr__(self, "params", params)

    def text(self, lang: str) -> str:
        return text(self.msgid, lang, **self.params)


@cache
def catalogue() -> Mapping[str, Mapping[str, str]]:
    """``{lang: {msgid: text}}`` for every language of :data:`LANGUAGES`, read once per process."""
    out: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        with (LOCALES / f"{lang}.po").open("rb") as f:
            po = read_po(f)
        out[lang] = {str(m.id): str(m.string) for m in po if m.id and m.string and not m.fuzzy}
    return out


def msgids() -> list[str]:
    return sorted(catalogue()[SOURCE])


def _value(value: Param, lang: str) -> str:
    if isinstance(value, Msg):
        return value.text(lang)
    if isinstance(value, Mapping):
        return (
            value.get(lang)
            or (value.get("en") if lang != SOURCE else None)
            or value.get(SOURCE)
            or next(iter(value.values()), "")
        )
    return str(value)


def raw(msgid: str, lang: str) -> str:
    """The unformatted text of ``msgid`` in ``lang``, else Japanese; KeyError if Japanese lacks it too."""
    cat = catalogue()
    return cat.get(lang, {}).get(msgid) or cat[SOURCE][msgid]


def fragment(msgid: str, lang: str, /, **params: Param) -> str:
    """``msgid`` in ``lang`` filled, its edge spaces kept: a piece another message puts inside a sentence."""
    return raw(msgid, lang).format_map({k: _value(v, lang) for k, v in params.items()})


def text(msgid: str, lang: str, /, **params: Param) -> str:
    """``msgid`` in ``lang`` with its placeholders filled (see the module docstring)."""
    return _SPACES.sub(" ", fragment(msgid, lang, **params)).strip()


def texts(msgid: str, /, **params: Param) -> dict[str, str]:
    """``msgid`` in every language: ``{lang: text}``."""
    return {lang: text(msgid, lang, **params) for lang in LANGUAGES}


def join(*parts: Mapping[str, str]) -> dict[str, str]:
    """Sentences in several languages put one after another, per language (a space where the script wants one).

    A language missing from a part is taken from that part's Japanese."""
    out: dict[str, str] = {}
    for lang in LANGUAGES:
        pieces = [s.strip() for s in (p.get(lang) or p.get(SOURCE, "") for p in parts) if s.strip()]
        out[lang] = ("" if lang in _NO_SPACE else " ").join(pieces)
    return out


def listing(items: Iterable[str], lang: str, *, ja: str = "、") -> str:
    """Names or phrases listed as ``lang`` lists them: ``ja`` (、 or ・) in Japanese, 、 in Chinese, else commas."""
    return (ja if lang == SOURCE else "、" if lang in ("zh-Hans", "zh-Hant") else ", ").join(items)


def pick(texts_by_lang: Mapping[str, str], lang: str) -> str | None:
    """The resident's fallback chain for an operator's text: their language, easy Japanese, Japanese."""
    return texts_by_lang.get(lang) or texts_by_lang.get(EASY_JAPANESE) or texts_by_lang.get(SOURCE)


def page_messages(lang: str) -> dict[str, str]:
    """Every message in ``lang`` (Japanese where it lacks one): what the resident page needs."""
    return {m: raw(m, lang) for m in msgids()}
