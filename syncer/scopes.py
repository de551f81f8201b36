"""Which HubSpot scopes each command needs, and which of them a token lacks (`syncer info`).

HubSpot names scopes per object family: `crm.objects.<family>.read|write` for records and
association labels, `crm.schemas.<family>.read|write` for object types and property definitions
(reference §12); custom objects are the family `custom`. A `.write` scope also allows reading.
"""

from __future__ import annotations

FAMILIES = ("custom", "contacts", "companies", "deals")

#: (commands, the scopes they need; {family} is the mapping's object's family)
NEEDS: list[tuple[str, tuple[str, ...]]] = [
    ("validate, plan, export", ("crm.objects.{family}.read", "crm.schemas.{family}.read")),
    ("push, apply, sync", ("crm.objects.{family}.write",)),
    ("schema plan", ("crm.schemas.{family}.read",)),
    ("schema apply, init --create-object", ("crm.schemas.{family}.write",)),
]


def needed(family: str) -> list[tuple[str, list[str]]]:
    return [(commands, [s.format(family=family) for s in scopes]) for commands, scopes in NEEDS]


def has(granted: set[str], scope: str) -> bool:
    """Whether `granted` allows `scope`: itself, or the write scope of a read one."""
    return scope in granted or (scope.endswith(".read") and scope[:-5] + ".write" in granted)


def lacking(granted: list[str]) -> list[tuple[str, str, list[str]]]:
    """(family, commands, scopes the token lacks for them), for every family and command it lacks
    one for."""
    have = set(granted)
    found = []
    for family in FAMILIES:
        for commands, scopes in needed(family):
            missing = [s for s in scopes if not has(have, s)]
            if missing:
                found.append((family, commands, missing))
    return found
