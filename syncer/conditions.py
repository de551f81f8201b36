"""The `where` conditions of export's --where and of a mapping (`year >= 2020`, `make in Ford,BMW`,
`owner is set`): each as the HubSpot search filter that finds the records it names.

A condition names a property by its sheet column or its own name, and its values are converted as
cells are (option labels to option values, dates to ISO), so a condition reads as the sheet does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from syncer import mapping, talk, values
from syncer.errors import InputError

# `year >= 2020`, `color = red`, `make in Ford,BMW`, `price between 1000 5000`, `owner is set`
_CONDITION = re.compile(
    r"^\s*(?P<name>.+?)\s+(?P<op>is\s+not\s+set|is\s+set|not\s+in|in|between|contains|!=|<>|>=|<=|=|==|>|<)"
    r"(?:\s+(?P<value>.*?))?\s*$", re.IGNORECASE)
_OPERATORS = {"=": "EQ", "==": "EQ", "!=": "NEQ", "<>": "NEQ", "<": "LT", "<=": "LTE", ">": "GT", ">=": "GTE",
              "in": "IN", "not in": "NOT_IN", "between": "BETWEEN", "contains": "CONTAINS_TOKEN",
              "is set": "HAS_PROPERTY", "is not set": "NOT_HAS_PROPERTY"}


def conditions(m: mapping.Mapping, properties: list[dict], where: Iterable[str] = ()) -> list[dict]:
    """The search filters of the mapping's `where` and then of `where` (export's --where), AND-ed.
    A bad one in the mapping is an InputError naming the file, its place and the condition."""
    found = [parse_condition(text, m, properties, origin=f"{m.path.name}: where[{i}]")
             for i, text in enumerate(m.where)]
    return found + [parse_condition(text, m, properties) for text in where]


def parse_condition(text: str, m: mapping.Mapping, properties: list[dict], *, origin: str = "--where") -> dict:
    """`property OP value` → a HubSpot search filter; the property may be named by its sheet column.
    Values are converted as cells are (labels to option values, dates to ISO). `origin` names where
    the condition was written, for messages (`--where`, or `cars.yaml: where[0]`)."""
    label = f'{origin} "{text}"'
    match = _CONDITION.match(text)
    if not match:
        raise InputError(f'{label}: write it as PROPERTY OPERATOR VALUE, e.g. "year >= 2020", '
                         '"make in Ford,BMW", "price between 1000 5000" or "owner is set"')
    name, op = match["name"].strip(), " ".join(match["op"].lower().split())
    operator = _OPERATORS[op]
    prop, spec = _named_property(label, name, m, properties)
    found = {"propertyName": prop["name"], "operator": operator}
    value = (match["value"] or "").strip()
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return found
    if not value:
        raise InputError(f'{label}: {op} needs a value')
    if operator in ("IN", "NOT_IN"):
        found["values"] = [_operand(label, v.strip(), prop, spec) for v in value.split(",") if v.strip()]
        if values.kind(prop) == "string":  # HubSpot matches IN on text only against lower-case values
            found["values"] = [v.lower() for v in found["values"]]
    elif operator == "BETWEEN":
        parts = value.replace(" and ", " ").split()
        if len(parts) != 2:
            raise InputError(f'{label}: between needs two values, e.g. "price between 1000 5000"')
        found["value"], found["highValue"] = (_operand(label, p, prop, spec) for p in parts)
    else:
        found["value"] = value if operator == "CONTAINS_TOKEN" else _operand(label, value, prop, spec)
    return found


def _named_property(label: str, name: str, m: mapping.Mapping, properties: list[dict]):
    by_name = {p["name"]: p for p in properties}
    spec = m.columns.get(name) or next((s for s in m.columns.values() if s.property == name), None)
    prop = by_name.get(spec.property if spec else name)
    if prop is None:
        raise InputError(f'{label}: no column or property "{name}"' + talk.did_you_mean(name, [*m.columns, *by_name]))
    return prop, spec


def _operand(label: str, value: str, prop: dict, spec) -> str:
    converted = values.convert(pd.Series([value], dtype=object), prop, spec)
    if converted.messages.iloc[0]:
        raise InputError(f'{label}: {converted.messages.iloc[0]}')
    return converted.canonical.iloc[0]
