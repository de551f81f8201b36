"""Issue #11, lossless round trips: what syncer writes into a sheet reads back exactly, and a sync
with no edits writes nothing, for every property type in every format syncer reads and writes.
Where a format cannot hold a value (cp1252 lacks ✈, an xlsx cell holds 32,767 characters), syncer
names the record and the column before writing and never plans a change from that cell.

Generated batches (hypothesis: a few examples here, many in benchmarks/roundtrip_soak.py) and the
issue's named reproductions, all against a sandbox portal over HTTP; the checks themselves are in
roundtrip_support.py.
"""

from __future__ import annotations

import csv
import io
import itertools
import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings

import roundtrip_support as rt
from roundtrip_support import Long

settings.register_profile(
    "roundtrip", max_examples=int(os.environ.get("ROUNDTRIP_EXAMPLES", "2")), deadline=None,
    # No shrinking in CI: each example drives the CLI against a portal, and the failure messages
    # already name the value, the format and what came back.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example])
ROUNDTRIP = settings(settings.get_profile("roundtrip"))
FORMATS = pytest.mark.parametrize("fmt", rt.FORMATS, ids=str)
# (b) runs in every format: sync writes into the sheet the person has. Export writes UTF-8 CSV or
# xlsx, so (a) and (c) read the export as a spreadsheet saved it again in the other formats, and
# write-back rewrites it there with the same code whatever the delimiter: in CI they run in export's
# two formats and one per other encoding, each with another delimiter, to stay well under a minute;
# benchmarks/roundtrip_soak.py runs every check in every format.
EXPORT_FORMATS = pytest.mark.parametrize("fmt", [rt.FORMAT[f] for f in (
    "csv-utf-8-comma", "xlsx", "csv-utf-8-sig-semicolon", "csv-cp1252-semicolon", "csv-utf-16-tab")], ids=str)


@pytest.fixture
def portal():
    """One sandbox portal per test function, shared by its examples (each makes its own object)."""
    from syncer.sandbox import Sandbox

    with Sandbox(rate_limit=100_000, search_rate_limit=1_000) as sandbox:
        found = rt.Portal(sandbox)
        yield found
        found.close()


@pytest.fixture
def folders(tmp_path):
    """A new folder per example."""
    numbers = itertools.count(1)
    return lambda: tmp_path / f"example-{next(numbers)}"


# --- generated: every type, in every format ------------------------------------------------------


@EXPORT_FORMATS
@ROUNDTRIP
@given(batch=rt.batches())
def test_an_unchanged_export_plans_nothing(portal, folders, fmt, batch):
    rt.check_export_plans_nothing(portal, folders(), fmt, batch)


@FORMATS
@ROUNDTRIP
@given(batch=rt.batches())
def test_a_sync_with_no_edits_writes_nothing(portal, folders, fmt, batch):
    rt.check_sync_writes_nothing(portal, folders(), fmt, batch)


@EXPORT_FORMATS
@ROUNDTRIP
@given(batch=rt.batches())
def test_push_write_back_then_plan_plans_nothing(portal, folders, fmt, batch):
    rt.check_write_back_plans_nothing(portal, folders(), fmt, batch)


# --- the named reproductions, as explicit examples ---------------------------------------

NAMED = {
    "apostrophe-escapes": [{"key": "=ABC123", "title": "@dealer_shop", "notes": "=1+1"},
                           {"key": "K2", "title": "-5 degrees", "phone": "+44 20 7946 0958"}],
    "bare-cr-in-a-cell": [{"key": "K1", "title": "line one\rline two", "notes": "a\rb"}],
    "label-1-is-value-2": [{"key": "K1", "choice": "2", "tags": "2"}, {"key": "K2", "choice": "1", "tags": "1;2"},
                           {"key": "K3", "choice": "navy"}],
    "long-numbers": [{"key": "K1", "amount": "-26.123456789012345"}, {"key": "K2", "amount": "12345678901234567890"}],
    "dst-repeated-hour-paris": [{"key": "K1", "at_paris": "2026-10-25T00:30:00.000Z"},
                                {"key": "K2", "at_paris": "2026-10-25T01:30:00.000Z"}],
    "date-1850": [{"key": "K1", "day": "1850-03-01"}],
    "multi-select-label-with-separator": [{"key": "K1", "tags": "bug_urgent"},
                                          {"key": "K2", "tags": "bug_urgent;feature"}],
    # cp1252 lacks ✈ and 東京: syncer names K1's Title and 東京1's Key, and appends "Thé" as it is
    "plane-and-tokyo": [{"key": "K1", "title": "✈ Flight"}, {"key": "東京1", "title": "Tokyo"},
                        {"key": "K3", "title": "Thé"}],
}
CP1252_ONLY = {"plane-and-tokyo"}
NAMED_CASES = [pytest.param(name, rt.FORMAT[fmt], id=f"{name}-{fmt}") for name in NAMED if name not in CP1252_ONLY
               for fmt in ("csv-utf-8-comma", "xlsx")]
# syncer writes these escapes into every CSV a sync appends to, whatever its encoding and delimiter
NAMED_SYNC_CASES = NAMED_CASES + [pytest.param("apostrophe-escapes", rt.FORMAT[fmt], id=f"apostrophe-escapes-{fmt}")
                                  for fmt in ("csv-cp1252-semicolon", "csv-utf-16-tab", "csv-utf-8-sig-comma")] + [
    pytest.param(name, rt.FORMAT["csv-cp1252-semicolon"], id=f"{name}-csv-cp1252-semicolon") for name in CP1252_ONLY]


@pytest.mark.parametrize("name, fmt", NAMED_CASES)
def test_named_an_unchanged_export_plans_nothing(portal, tmp_path, name, fmt):
    rt.check_export_plans_nothing(portal, tmp_path, fmt, NAMED[name])


@pytest.mark.parametrize("name, fmt", NAMED_SYNC_CASES)
def test_named_a_sync_with_no_edits_writes_nothing(portal, tmp_path, name, fmt):
    rt.check_sync_writes_nothing(portal, tmp_path, fmt, NAMED[name])


# Found by the generated tests; kept as explicit examples through every check.
FOUND = [
    # csv.Sniffer takes the escape's apostrophes for quotes and the tab for the delimiter
    pytest.param([{"key": "=K0", "notes": "'\tb"}], rt.FORMAT["csv-utf-8-comma"], id="apostrophe-then-tab-csv"),
    # OOXML escapes (_xHHHH_) decoded on reading or on editing in place; text that looks like an Excel error
    pytest.param([{"key": "K1", "title": "_x0041_ (an OOXML escape)", "notes": "#N/A"}], rt.FORMAT["xlsx"],
                 id="ooxml-escape-and-error-text-xlsx"),
]


@pytest.mark.parametrize("batch, fmt", FOUND)
@pytest.mark.parametrize("check", [rt.check_export_plans_nothing, rt.check_sync_writes_nothing,
                                   rt.check_write_back_plans_nothing], ids=["export", "sync", "write-back"])
def test_found_cases(portal, tmp_path, check, batch, fmt):
    check(portal, tmp_path, fmt, batch)


def test_exported_csv_cells_stay_neutralised_against_formulas(portal, tmp_path):
    """The lossless rule must not cost the injection guard: the escapes stay in the file."""
    case = rt.Case.make(portal, tmp_path, rt.EXPORTED_CSV, NAMED["apostrophe-escapes"])
    run = case.cli("export", case.mapping, "-o", case.sheet)
    assert run.exit_code == 0 and not run.crashed, run.output
    cells = [cell for row in csv.reader(io.StringIO(case.sheet.read_text(encoding="utf-8"))) for cell in row]
    for value in ("=ABC123", "@dealer_shop", "=1+1", "-5 degrees"):
        written = [c for c in cells if c.endswith(value)]
        assert written and all(not c.startswith(("=", "@", "+", "-")) for c in written), (value, written)


def test_a_50000_character_note_through_xlsx_is_never_shortened(portal, tmp_path):
    """Export (or sync) a 50,000-character note to xlsx, whose cells hold 32,767: syncer names the
    record and the column, and two syncs with no edit leave HubSpot's note whole."""
    note = Long(50_000, "A long note with ✈ and words. ")
    case = rt.Case.make(portal, tmp_path / "export", rt.FORMAT["xlsx"], [{"key": "NOTE1", "notes": note},
                                                                          {"key": "OTHER", "title": "short"}])
    problems, _, held = rt.exported_sheet(case, "through export")
    assert held == {"NOTE1": ["Notes"]}
    if case.sheet.exists():
        for step in ("first sync", "second sync", "third sync"):
            run = case.cli("sync", case.mapping, "--json")
            problems += run.problems(step, exit_codes=(0, 1))
    problems += case.hubspot_unchanged("after two syncs")
    stored = case.portal.stored(case.object_type)["NOTE1"][1]["notes"]
    if len(stored) != 50_000:
        problems.append(f"HubSpot's note is now {len(stored):,} characters, not 50,000")
    try:  # the same note appended by a sync to a sheet of a header alone
        rt.check_sync_writes_nothing(portal, tmp_path / "sync", rt.FORMAT["xlsx"], [{"key": "NOTE1", "notes": note}])
    except AssertionError as error:
        problems.append(f"through sync: {error}")
    assert not problems, "\n".join(problems)


TWO_RECORDS = [{"key": "K1", "title": "Cafe"}, {"key": "K2", "title": "Thé"}]
TWO_ROWS = [rt.COLUMNS, *([r["key"], r["title"]] + [""] * (len(rt.COLUMNS) - 2) for r in TWO_RECORDS)]


@pytest.mark.parametrize("fmt", [rt.FORMAT["csv-cp1252-semicolon"], rt.FORMAT["csv-cp1252-comma"]], ids=str)
def test_sync_into_a_cp1252_csv_when_hubspot_holds_a_character_it_lacks(portal, tmp_path, fmt):
    """A pull of "✈ Flight" into a cp1252 CSV: no traceback, the record and column named, the
    sheet and HubSpot as they were, and the next sync plans no change from that cell."""
    case = rt.Case.make(portal, tmp_path, fmt, TWO_RECORDS)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=fmt.delimiter, lineterminator="\r\n").writerows(TWO_ROWS)
    case.sheet.write_bytes(buffer.getvalue().encode("cp1252"))
    first = case.cli("sync", case.mapping, "--json")
    assert not first.problems("first sync"), first.problems("first sync")
    [answer] = portal.client.batch_update(case.object_type, [{"id": case.record_id("K1"),
                                                               "properties": {"title": "✈ Flight"}}])
    assert answer.ok
    case.seeded["K1"][1]["title"] = "✈ Flight"
    before = case.sheet.read_bytes()
    pulled = case.cli("sync", case.mapping, "--json")
    problems = pulled.problems("sync pulling ✈ into cp1252", exit_codes=(1, 2))
    problems += case.said_so(pulled, {"K1": ["Title"]}, "sync pulling ✈ into cp1252")
    text = case.sheet.read_bytes().decode("cp1252")  # still a cp1252 file
    title = {r[0]: r[1] for r in csv.reader(io.StringIO(text), delimiter=fmt.delimiter) if r}.get("K1")
    if title not in ("Cafe", "✈ Flight"):
        problems.append(f"the sheet's Title of K1 is now {title!r} (was 'Cafe'; HubSpot has '✈ Flight'); "
                        f"bytes {rt.describe_bytes(before, case.sheet.read_bytes())}")
    again = case.cli("sync", case.mapping, "--json")
    problems += again.problems("the next sync", exit_codes=(0, 1, 2))
    problems += case.hubspot_unchanged("after both syncs")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("fmt", [rt.FORMAT[f] for f in ("csv-utf-8-comma", "csv-cp1252-semicolon", "csv-utf-16-tab",
                                                        "csv-utf-8-sig-comma")], ids=str)
def test_a_crlf_csv_keeps_crlf_encoding_and_delimiter_after_a_sync_that_pulls_a_change(portal, tmp_path, fmt):
    case = rt.Case.make(portal, tmp_path, fmt, TWO_RECORDS)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=fmt.delimiter, lineterminator="\r\n").writerows(TWO_ROWS)
    original = buffer.getvalue().encode(fmt.encoding)
    case.sheet.write_bytes(original)
    first = case.cli("sync", case.mapping, "--json")
    assert not first.problems("first sync"), first.problems("first sync")
    [answer] = portal.client.batch_update(case.object_type, [{"id": case.record_id("K1"),
                                                               "properties": {"title": "Coffee"}}])
    assert answer.ok
    pulled = case.cli("sync", case.mapping, "--json")
    assert not pulled.problems("sync pulling a change"), pulled.problems("sync pulling a change")
    assert (pulled.document().get("counts") or {}).get("pull") == 1, rt.describe_sync(pulled)
    data = case.sheet.read_bytes()
    expected = original.decode(fmt.encoding).replace("Cafe", "Coffee").encode(fmt.encoding)
    text = data.decode(fmt.encoding, errors="replace")
    crlf, ends = text.count("\r\n"), text.count("\n")
    assert data == expected, (f"{fmt}: after the pull the sheet is {rt.describe_bytes(expected, data)}; "
                              f"{crlf} of its {ends} line ends are CRLF")
