"""Lazy package exports (PEP 562): a package names what it exports and where each lives, and a
name's module is imported on first use. `import syncer` and `syncer --help` then load neither
pandas nor openpyxl nor pydantic; the first function that needs them does."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any, Callable


def exports(package: str, table: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, whose names come from `table`: name → "module" or
    "module:attribute" (an export under another name, such as `load_mapping` for `mapping:load`).

    An export may share its name with a submodule (`syncer.sync`, the function, in `syncer/sync.py`):
    importing the submodule must not replace the export with the module, as Python's import system
    would, so the package's module object keeps its exports (_Package)."""
    sys.modules[package].__class__ = _Package
    namespace = sys.modules[package].__dict__
    namespace["_exported"] = table  # what _Package keeps from being replaced by a submodule

    def __getattr__(name: str) -> Any:
        where = table.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = where.partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        namespace[name] = value  # asked once: later lookups find it without this hook
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *table})

    return __getattr__, __dir__


class _Package(types.ModuleType):
    """A package whose exported names stay the exports when a submodule of the same name loads."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in self.__dict__.get("_exported", {}):
            return  # the submodule stays reachable as sys.modules[f"{package}.{name}"]
        super().__setattr__(name, value)
