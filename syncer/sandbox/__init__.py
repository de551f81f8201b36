"""A local HubSpot-compatible portal: HubSpot's CRM v3 endpoints, rules, limits and faults.

An independent model of HubSpot: it imports nothing from the rest of syncer, so the tests that
run the engine against it can catch the engine's mistakes. Choices made where HubSpot's behaviour
is unverified are gathered in `behaviour.py`, and where HubSpot may behave in more than one way, the
way this portal behaves is its `Variants` (behaviour.py too).
"""

from syncer.sandbox.behaviour import INSTANT_INDEX, Variants
from syncer.sandbox.faults import FaultSpecError
from syncer.sandbox.server import LogEntry, Sandbox, serve

__all__ = ["Sandbox", "serve", "LogEntry", "FaultSpecError", "Variants", "INSTANT_INDEX"]
