"""Property values as HubSpot validates and stores them (reference §7): in as JSON, out as strings."""

from __future__ import annotations

import datetime as dt
import re
from datetime import datetime, timezone
from functools import lru_cache
from decimal import Decimal, InvalidOperation

from syncer.sandbox import behaviour
from syncer.sandbox.errors import PropertyProblem

NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
EPOCH_MS = re.compile(r"^-?\d+$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DAY_MS = 86_400_000
EPOCH_DAY = dt.date(1970, 1, 1)


def as_text(raw) -> str | None:
    """JSON values as the strings HubSpot reads them as; None means "clear"."""
    if raw is None:
        return "" if behaviour.NULL_CLEARS else None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float)):
        return repr(raw)
    if isinstance(raw, str):
        return raw
    return str(raw)


def normalise(definition: dict, raw, current: str | None = None) -> str | None:
    """The stored string for `raw`, or None when it clears the value; PropertyProblem if invalid."""
    text = as_text(raw)
    if text == "":
        return None
    kind = definition["type"]
    name = definition["name"]
    if kind == "number":
        return number(name, text)
    if kind == "date":
        return date(name, text)
    if kind == "datetime":
        return iso_ms(datetime_ms(name, text))
    if kind == "bool" or definition["fieldType"] == "booleancheckbox":
        return boolean(name, text)
    if kind == "enumeration":
        return enumeration(definition, text, current)
    if name == "email" and behaviour.EMAIL_LOWER_CASE:
        return email(text)
    return text


def number(name: str, text: str) -> str:
    if not NUMBER.match(text.strip()):
        raise PropertyProblem(name, "INVALID_INTEGER", f"{text} was not a valid number.")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise PropertyProblem(name, "INVALID_INTEGER", f"{text} was not a valid number.") from None
    return format_number(value)


def format_number(value: Decimal) -> str:
    """`52000.0` → `52000`, `1.50` → `1.5`, `1e3` → `1000`: no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def date(name: str, text: str) -> str:
    """YYYY-MM-DD, or epoch ms (or an ISO instant) exactly at midnight UTC."""
    if ISO_DATE.match(text):
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise PropertyProblem(name, "INVALID_DATE", f"{text} was not a valid date.") from None
        return text
    ms = datetime_ms(name, text)
    if ms % DAY_MS:
        moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
        raise PropertyProblem(
            name, "INVALID_DATE",
            f"{text} is at {moment.hour}:{moment.minute}:{moment.second}.{moment.microsecond // 1000} UTC, "
            "not midnight!")
    return iso_ms(ms)[:10]


def datetime_ms(name: str, text: str) -> int:
    """Epoch milliseconds from epoch ms or ISO 8601 (an offset converts to UTC; none means UTC)."""
    if EPOCH_MS.match(text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise PropertyProblem(name, "INVALID_LONG", f"{text} was not a valid long.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000)


@lru_cache(maxsize=4096)  # the records of one write share a timestamp
def iso_ms(ms: int) -> str:
    """`2019-10-30T03:30:17.883Z`."""
    moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def boolean(name: str, text: str) -> str:
    if text.lower() in ("true", "false"):
        return text.lower()
    raise PropertyProblem(name, "INVALID_BOOLEAN", f"{text} was not a valid boolean.")


def email(text: str) -> str:
    if not EMAIL.match(text):
        raise PropertyProblem("email", "INVALID_EMAIL", f"Email address {text} is invalid")
    return text.lower()


def enumeration(definition: dict, text: str, current: str | None) -> str:
    """Option values, case-sensitive; a checkbox joins several with `;`, a leading `;` appends."""
    allowed = [o["value"] for o in definition["options"]]
    if definition["fieldType"] != "checkbox":
        if text not in allowed:
            raise invalid_option(definition, text)
        return text
    chosen = current.split(";") if text.startswith(";") and current else []
    for value in text.split(";"):
        if value == "":
            continue
        if value not in allowed:
            raise invalid_option(definition, value)
        if value not in chosen:
            chosen.append(value)
    return ";".join(chosen) or None


def invalid_option(definition: dict, value: str) -> PropertyProblem:
    listed = ", ".join(
        f'label: "{o["label"]}"\nvalue: "{o["value"]}"\ndisplay_order: {o.get("displayOrder", -1)}\n'
        f'hidden: {str(o.get("hidden", False)).lower()}\nread_only: false\n'
        for o in definition["options"])
    return PropertyProblem(definition["name"], "INVALID_OPTION",
                           f"{value} was not one of the allowed options: [{listed}]")


def sort_key(definition: dict | None, value: str | None):
    """A comparable form of a stored value: numbers and dates as numbers, text case-insensitive."""
    if value is None:
        return None
    kind = definition["type"] if definition else "number"
    if kind == "number":
        return Decimal(value)
    if kind in ("date", "datetime"):
        return datetime_ms("", value) if kind == "datetime" else date_ms(value)
    return value.lower()


def date_ms(value: str) -> int:
    return (dt.date.fromisoformat(value) - EPOCH_DAY).days * DAY_MS
