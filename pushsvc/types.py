"""Shared types: the one free-text type, ids bounded to the columns they look up, and the vocabularies
(categories, languages, coordinates, severities) that every domain speaks.

Every text a client sends is stored as JSON or a column and later encoded for a push, a page or a
CAP file; a lone surrogate (``"\\ud83c"``) survives ``json.loads`` but not ``str.encode("utf-8")``,
and PostgreSQL refuses NUL in text. So text is checked once, at the edge, here: valid Unicode only,
no NUL or other control characters (newline and tab where the text is multi-line), NFC, bounded.
Ids in paths and queries are bounded to the 32-bit ``INTEGER`` columns of both backends, so a huge id
is a 422 naming the parameter rather than a driver overflow (500).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import Path, Query
from pydantic import AfterValidator, Field

MAX_ID = 2**31 - 1  # INTEGER on PostgreSQL; SQLite's is wider, the same bound keeps both alike
_ALLOWED_IN_MULTILINE = frozenset("\n\t")
# Categories refused in every text: controls (Cc, except the allowed whitespace), surrogates (Cs) and
# unassigned code points (Cn). Format characters (Cf: ZWJ in emoji, RLM in Arabic names) are kept.
_REFUSED = frozenset({"Cc", "Cs", "Cn"})


def text_problem(value: str, *, multiline: bool) -> str | None:
    """Why ``value`` is not acceptable text, or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (no lone surrogates)"
    for ch in value:
        if unicodedata.category(ch) in _REFUSED and not (multiline and ch in _ALLOWED_IN_MULTILINE):
            allowed = " (newline and tab are allowed)" if multiline else ""
            return f"text must not contain control or unassigned characters such as U+{ord(ch):04X}{allowed}"
    return None


def clean_text(value: str, *, multiline: bool = False) -> str:
    """NFC-normalised ``value``; ValueError (a 422 naming the field) if it is not acceptable text."""
    problem = text_problem(value, multiline=multiline)
    if problem:
        raise ValueError(problem)
    return unicodedata.normalize("NFC", value)


def _line(value: str) -> str:
    return clean_text(value, multiline=False)


def _multiline(value: str) -> str:
    return clean_text(value, multiline=True)


# The text types: ``Line`` is one line (a title, a name), ``Paragraph`` may hold newlines and tabs (a body).
# Both carry an upper bound; a field narrows it with ``Field(max_length=...)``.
Line = Annotated[str, Field(max_length=500), AfterValidator(_line)]
Paragraph = Annotated[str, Field(max_length=20_000), AfterValidator(_multiline)]
LangKey = Annotated[str, Field(max_length=16), AfterValidator(_line)]
TitlesByLang = Annotated[dict[LangKey, Line], Field(max_length=20)]
BodiesByLang = Annotated[dict[LangKey, Paragraph], Field(max_length=20)]


def scrub(value: str) -> str:
    """Text stored before it was checked, made safe to show and send: bad characters become U+FFFD.

    Only for output of old rows (listing and cancelling a message must always work); input is refused.
    """
    if text_problem(value, multiline=True) is None:
        return value
    return "".join(
        "\ufffd" if unicodedata.category(c) in _REFUSED and c not in _ALLOWED_IN_MULTILINE else c for c in value
    )


def scrub_texts(texts: dict[str, str]) -> dict[str, str]:
    return {scrub(k): scrub(v) for k, v in texts.items()}


def scrub_json(value: Any) -> Any:
    """``scrub`` applied to every string in a JSON value (keys included)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_json(k): scrub_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v) for v in value]
    return value


def _optional_line(value: str | None) -> str | None:
    return None if value is None else _line(value)


def as_utc(value: datetime) -> datetime:
    """SQLite hands stored UTC back without its offset; an answer always carries it (RFC 3339)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
"""A datetime in an answer, always with its offset."""


PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="a row id (1 … 2³¹−1)")]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="a row id (1 … 2³¹−1)")]
PathText = Annotated[str, Path(max_length=80), AfterValidator(_line)]
SiteId = Annotated[
    str, Path(min_length=1, max_length=64, description="共通ID of an evacuation site"), AfterValidator(_line)
]
"""A path's 共通ID, held to what ``ShelterStateItem.id`` accepts, so a bad one is a 422 naming it."""
QueryText = Annotated[str | None, Query(max_length=100), AfterValidator(_optional_line)]
MunicipalityQuery = Annotated[str | None, Query(pattern=r"^\d{5}$", description="5-digit code, e.g. 39201")]

Category = Literal["evacuation", "river", "weather", "landslide", "quake_tsunami", "area_info"]
# Languages a resident may ask for; messages fall back to Japanese where no translation exists.
Lang = Literal["ja", "en", "zh-Hans", "zh-Hant", "ko", "vi", "tl", "ne", "id", "pt"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
LANGUAGES: tuple[Lang, ...] = get_args(Lang)
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, description="latitude, WGS84")]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, description="longitude, WGS84")]
# How urgent a push is (CAP <severity> and the Web Push Urgency follow from it).
Severity = Literal["info", "advisory", "warning", "emergency"]
