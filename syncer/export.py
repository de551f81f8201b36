"""The pull direction: HubSpot records → a sheet that can be edited and pushed back.

Records are read page by page (list, or search with `--where`) and written in chunks through
`tables.SheetWriter`, so memory stays bounded whatever the number of records. Cells are natural
(dates as dates, numbers as numbers, options as the mapping's labels), under the mapping's column
names, plus a `Record ID` column, so the sheet pushes back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from syncer import associations, mapping, portals, tables, values
from syncer.conditions import conditions
from syncer.errors import InputError
from syncer.hubspot.search import FILTERS_PER_GROUP

if TYPE_CHECKING:
    from syncer.hubspot.protocol import PortalClient

RECORD_ID_COLUMN = "Record ID"
CHUNK_RECORDS = 10_000  # rows converted and written at a time: pandas' per-call cost vs memory
MAX_CONDITIONS = FILTERS_PER_GROUP - 1  # less the one that pages past 10,000 results

@dataclass
class ExportSummary:
    """What an export wrote: where, how many records, under which columns, at what cost in calls."""

    path: Path
    records: int
    columns: list[str] = field(default_factory=list)
    calls: int = 0


def export(mapping_path: str | Path, client: PortalClient, out: str | Path, *, where: Iterable[str] = (),
           all_properties: bool = False, archived: bool = False,
           on_progress: Callable[[int], None] | None = None,
           chunk_records: int = CHUNK_RECORDS) -> ExportSummary:
    """Write the mapping's object to `out` (.xlsx or .csv). `where`: conditions such as
    `year >= 2020`, AND-ed with each other and with the mapping's `where`, sent as search filters;
    without any, every record is listed.
    `on_progress` receives the number of records written so far, after each chunk of
    `chunk_records`."""
    m = mapping.load(mapping_path)
    out = Path(out)
    if out.suffix.lower() not in tables.CSV_SUFFIXES | tables.XLSX_SUFFIXES:
        raise InputError(f"{out.name}: cannot write {out.suffix!r}; use .csv or .xlsx")
    calls = client.calls
    object_type, _ = portals.reach(m, client)
    properties = client.properties(object_type)
    problems = [p for p in mapping.check(m, properties) if p.key != "columns" or "id property" not in p.message]
    if problems:
        raise InputError("the mapping does not fit the portal:\n" + "\n".join(f"  {p}" for p in problems))
    filters = conditions(m, properties, where)
    if filters and archived:
        given = "--where" if not m.where else f"{m.path.name}'s where" + (" and --where" if where else "")
        raise InputError(f"{given} and --archived cannot be combined: HubSpot's search never returns archived records")
    if len(filters) > MAX_CONDITIONS:
        raise InputError(f"{len(filters)} conditions ({m.path.name}'s where and --where together), more than the "
                         f"{MAX_CONDITIONS} HubSpot's search leaves room for (6 filters per group, one of them for "
                         'paging); join conditions on one property, e.g. "year between 2020 2024"')
    names = _exported_properties(m, properties, all_properties)
    if filters:
        records = client.search(object_type, filters=filters, properties=names)
    else:
        records = client.list_records(object_type, properties=names, archived=archived)
    columns = export_columns(m, names)
    written = 0
    sheet_name = m.sheet if isinstance(m.sheet, str) else "Sheet1"
    with tables.SheetWriter(out, columns, sheet_name=sheet_name, header_row=m.header_row) as writer:
        for chunk in _chunks(records, chunk_records):
            cells = record_cells(chunk, m, properties, names, client, object_type, text_dates=writer.is_csv)
            _refuse_unwritable(cells, out, m, m.header_row + 1 + written)
            writer.write(cells)
            written += len(chunk)
            if on_progress:
                on_progress(written)
    return ExportSummary(out, written, columns, client.calls - calls)


def _refuse_unwritable(cells: pd.DataFrame, out: Path, m: mapping.Mapping, first_row: int) -> None:
    """InputError naming each record and property whose value `out` cannot hold (text longer than
    an Excel cell), before the export's file exists: nothing is written cut."""
    found = tables.unwritable(cells, out, first_row=first_row)
    if not found:
        return
    property_of = {column: spec.property for column, spec in m.columns.items()}
    lines = [f"  record {cells[RECORD_ID_COLUMN].iloc[e.row - first_row]}, {property_of.get(e.column, e.column)} "
             f"(row {e.row}, column \"{e.column}\"): {e.message}" for e in found[:10]]
    more = [f"  and {len(found) - 10} more"] if len(found) > 10 else []
    raise InputError("\n".join([f"{out.name}: {len(found)} value(s) cannot be written into this file whole; "
                                 "nothing was written:", *lines, *more]))


def _exported_properties(m: mapping.Mapping, properties: list[dict], all_properties: bool) -> list[str]:
    mapped = [s.property for s in m.columns.values()]
    if not all_properties:
        return mapped
    return mapped + [p["name"] for p in properties if p["name"] not in mapped]


def export_columns(m: mapping.Mapping, names: list[str]) -> list[str]:
    """Column order: the mapping's columns, its association columns, other properties, Record ID."""
    mapped = {s.property for s in m.columns.values()}
    return [*m.columns, *(a.column for a in m.associations), *(n for n in names if n not in mapped),
            RECORD_ID_COLUMN]


def _chunks(records: Iterator, size: int) -> Iterator[list]:
    records = iter(records)
    while chunk := list(islice(records, size)):
        yield chunk


def record_cells(records: list, m: mapping.Mapping, properties: list[dict], names: list[str], client: PortalClient,
                 object_type, *, text_dates: bool = False) -> pd.DataFrame:
    """Natural cells for some records, in export_columns order."""
    index = [r.id for r in records]
    raw = pd.DataFrame([{n: r.properties.get(n) for n in names} for r in records], index=index,
                       columns=names, dtype=object)
    canonical = values.normalize_remote(raw, properties) if len(raw) else raw
    cells = sheet_cells(canonical, m, properties, text_dates=text_dates)
    for spec in m.associations if not index else ():
        cells[spec.column] = []
    for link in associations.resolve(m, client, object_type) if index else ():
        cells[link.column] = associations.cells(client, object_type, link, index)
    mapped = {s.property for s in m.columns.values()}
    for name in names:
        if name not in mapped:
            cells[name] = canonical[name]
    cells[RECORD_ID_COLUMN] = index
    return cells[export_columns(m, names)]


def sheet_cells(canonical: pd.DataFrame, m: mapping.Mapping, properties: list[dict], *,
                text_dates: bool = False) -> pd.DataFrame:
    """Canonical values → the cells a person reads, under the mapping's column names.

    For a CSV (`text_dates`), dates of a column with a `format` are written in that format, so
    the file reads back as it was written; cells `values.to_cells` made ISO text (a time in an hour
    a DST change repeats) stay ISO, which reading accepts beside the format.
    """
    cells = values.to_cells(canonical, m, properties)
    if text_dates:
        for column, spec in m.columns.items():
            if spec.format and column in cells:
                cells[column] = cells[column].map(lambda v: v.strftime(spec.format) if hasattr(v, "strftime") else v)
    return cells
