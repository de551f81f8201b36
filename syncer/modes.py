"""How a push treats records (the mapping's sync.mode), in a module of its own so the command line
can offer the choices without loading the planner."""

from enum import Enum


class Mode(str, Enum):
    UPSERT = "upsert"  # create missing records, update changed ones
    UPDATE = "update"  # never create
    CREATE = "create"  # never update
    MIRROR = "mirror"  # upsert, and archive records the sheet no longer has
