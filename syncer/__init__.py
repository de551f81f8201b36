"""syncer: keep spreadsheets and HubSpot CRM objects in step.

The CLI is a thin layer over this Python API; anything it does, a script can do by importing syncer.
"""

from syncer.errors import InputError, PortalError, SyncerError

__all__ = ["SyncerError", "InputError", "PortalError"]
__version__ = "0.1.0"
