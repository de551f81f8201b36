"""docs/ARCHITECTURE.md describes the modules as built, and its import rules hold."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

DOC = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
PACKAGE = REPO / "syncer"


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_every_engine_module_is_in_the_architecture_document():
    for path in sorted(PACKAGE.glob("*.py")):
        assert f"`syncer/{path.name}`" in DOC, path.name
    for package in ("hubspot", "sandbox"):
        assert f"`syncer/{package}/`" in DOC
    for path in sorted((PACKAGE / "sandbox").glob("*.py")):
        assert path.name == "__init__.py" or f"`{path.name}`" in DOC, path.name


def test_the_readme_points_at_it():
    assert "docs/ARCHITECTURE.md" in (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", sorted((PACKAGE / "sandbox").glob("*.py")), ids=lambda p: p.name)
def test_the_sandbox_imports_nothing_of_the_engine(path):
    engine = {m for m in imported(path) if m.startswith("syncer") and not m.startswith("syncer.sandbox")}
    assert engine == set()


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if "sandbox" not in p.parts),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_engine_reaches_the_sandbox_only_through_the_cli_launcher(path):
    reaching = {m for m in imported(path) if m.startswith("syncer.sandbox")}
    assert not reaching or path.name == "cli.py", reaching


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py")
                                        if "sandbox" not in p.parts and "hubspot" not in p.parts),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_hubspot_package_sends_http(path):
    assert not {m for m in imported(path) if m.split(".")[0] in {"requests", "urllib3", "http", "urllib"}
                and m not in {"urllib.parse"}}


@pytest.mark.parametrize("name", ["plan.py", "keys.py", "merge.py"])
def test_planning_is_pure(name):
    io = {m for m in imported(PACKAGE / name)
          if m.split(".")[0] in {"requests", "sqlite3", "openpyxl", "python_calamine", "time", "socket"}
          or m.startswith("syncer.hubspot")}
    assert io == set()


def test_the_client_answers_the_protocol_the_engine_is_typed_against(client):
    import inspect

    from syncer.hubspot import HubSpotClient
    from syncer.hubspot.protocol import PortalClient

    assert isinstance(client, PortalClient)
    for name, wanted in vars(PortalClient).items():
        if callable(wanted) and not name.startswith("_"):
            have = inspect.signature(getattr(HubSpotClient, name)).parameters
            assert list(inspect.signature(wanted).parameters) == list(have), name


def test_engine_functions_take_the_typed_client_and_never_guess_at_it():
    for name in ("jobs", "sync", "export", "execute", "push", "portals", "schema_jobs"):
        text = (PACKAGE / f"{name}.py").read_text(encoding="utf-8")
        assert "getattr(client" not in text, name
        assert "client: PortalClient" in text, name


LINK_CALLS = ("association_spec(", "batch_read_associations(", "batch_associate(", "batch_disassociate(")


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.glob("*.py") if p.name != "associations.py"),
                         ids=lambda p: p.name)
def test_only_the_associations_module_reads_or_writes_links(path):
    text = path.read_text(encoding="utf-8")
    assert not [call for call in LINK_CALLS if f"client.{call}" in text]


def layers() -> dict[str, int]:
    """Module → its layer, from the document's Layers table."""
    found = {}
    for line in DOC.split("## Layers", 1)[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0][:1].isdigit():
            for name in cells[1].split(","):
                found[name.strip().strip("`")] = int(cells[0].split()[0])
    return found


def test_every_module_has_a_layer():
    named = layers()
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {"hubspot"}
    assert modules == set(named), modules ^ set(named)


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if "sandbox" not in p.parts),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_reaches_a_higher_layer(path):
    named = layers()
    module = "hubspot" if "hubspot" in path.parts else path.stem
    reached = {m.split(".")[1] for m in imported(path) if m.startswith("syncer.") and m.split(".")[1] in named}
    higher = {m for m in reached if named[m] > named[module]}
    assert not higher, f"{module} (layer {named[module]}) imports {sorted(higher)}"
