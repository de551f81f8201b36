"""Cells ⇄ canonical HubSpot values, one table per property type, plus hypothesis round trips."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncer import mapping, tables, values
from syncer.mapping import ColumnSpec

REPO = Path(__file__).resolve().parents[1]
PROPERTIES = json.loads((REPO / "sample_data" / "cars.properties.json").read_text())
PROPS = {p["name"]: p for p in PROPERTIES}


def canonical(prop: str, *cells, **spec) -> list:
    converted = values.convert(pd.Series(list(cells), dtype=object), PROPS[prop], ColumnSpec(property=prop, **spec))
    return [m if m is not None else c for c, m in zip(converted.canonical, converted.messages)]


CASES = [
    # property, cell, spec, canonical
    ("price", "52000.0", {}, "52000"),
    ("price", 52000.0, {}, "52000"),
    ("price", 52000, {}, "52000"),
    ("price", "1.50", {}, "1.5"),
    ("price", " 007 ", {}, "7"),
    ("price", "-0.0", {}, "0"),
    ("price", ".5", {}, "0.5"),
    ("price", "+3", {}, "3"),
    ("price", "1.5e3", {}, "1500"),
    ("price", "12345678901234567890.1234567890", {}, "12345678901234567890.123456789"),
    ("price", "١٢", {}, "12"),  # Arabic-Indic digits: HubSpot's text of the number has ASCII digits
    ("price", "1٣", {}, "13"),
    ("price", "１２.５０", {}, "12.5"),  # full-width
    ("year", "", {}, None),
    ("year", "   ", {}, None),
    ("year", None, {}, None),
    ("listing_date", "2026-01-15", {}, "2026-01-15"),
    ("listing_date", dt.date(2026, 1, 15), {}, "2026-01-15"),
    ("listing_date", dt.datetime(2026, 1, 15), {}, "2026-01-15"),
    ("listing_date", "15/01/2026", {"format": "%d/%m/%Y"}, "2026-01-15"),
    ("listing_date", dt.date(2026, 1, 15), {"format": "%d/%m/%Y"}, "2026-01-15"),
    ("last_serviced_at", "2026-01-15T10:30:00Z", {}, "2026-01-15T10:30:00.000Z"),
    ("last_serviced_at", "2026-01-15T10:30:00.123+01:00", {}, "2026-01-15T09:30:00.123Z"),
    ("last_serviced_at", "2026-01-15 10:30", {}, "2026-01-15T10:30:00.000Z"),
    ("last_serviced_at", "2026-07-15 10:30", {"timezone": "Europe/Paris"}, "2026-07-15T08:30:00.000Z"),
    ("last_serviced_at", dt.datetime(2026, 1, 15, 10, 30), {"timezone": "Europe/Paris"}, "2026-01-15T09:30:00.000Z"),
    ("last_serviced_at", "15.01.2026 10:30", {"format": "%d.%m.%Y %H:%M"}, "2026-01-15T10:30:00.000Z"),
    ("last_serviced_at", "2025-10-26 02:30", {"timezone": "Europe/Paris"}, "2025-10-26T00:30:00.000Z"),  # DST: first
    ("last_serviced_at", "2025-03-30 02:30", {"timezone": "Europe/Paris"}, "2025-03-30T01:00:00.000Z"),  # skipped hour
    ("available", "Yes", {}, "true"),
    ("available", "TRUE", {}, "true"),
    ("available", True, {}, "true"),
    ("available", "1", {}, "true"),
    ("available", 1.0, {}, "true"),
    ("available", "y", {}, "true"),
    ("available", "No", {}, "false"),
    ("available", "FALSE", {}, "false"),
    ("available", "0", {}, "false"),
    ("available", "n", {}, "false"),
    ("color", "Red", {}, "red"),
    ("color", "dark BLUE", {}, "blue"),
    ("color", "blue", {}, "blue"),
    ("color", "Navy", {"values": {"navy": "blue"}}, "blue"),
    ("features", "Sunroof;Bluetooth", {}, "sunroof;bluetooth"),
    ("features", "bluetooth;sunroof", {}, "sunroof;bluetooth"),
    ("features", "Navigation, heated seats", {"separator": ","}, "heated_seats;navigation"),
    ("features", "Sunroof;;sunroof", {}, "sunroof"),
    ("make", "  Ford ", {}, "Ford"),
    ("make", 75001.0, {}, "75001"),
    ("dealer_phone", " +44 20 7946 0958 ", {}, "+44 20 7946 0958"),
]


@pytest.mark.parametrize("prop, cell, spec, expected", CASES,
                         ids=[f"{c[0]}-{c[1]!r}" for c in CASES])
def test_cell_to_canonical(prop, cell, spec, expected):
    assert canonical(prop, cell, **spec) == [expected]


BAD = [
    ("year", "20x4", {}, '"20x4" is not a number'),
    ("price", "52,000", {}, '"52,000" is not a number'),
    ("price", "1.2.3", {}, "is not a number"),
    ("listing_date", "31/02/2026", {"format": "%d/%m/%Y"}, '"31/02/2026" is not a date in format %d/%m/%Y'),
    ("listing_date", "tomorrow", {}, '"tomorrow" is not a date'),
    ("listing_date", dt.datetime(2026, 1, 15, 13, 1), {}, "is not a date"),
    ("last_serviced_at", "yesterday", {}, '"yesterday" is not a date and time'),
    ("available", "maybe", {}, '"maybe" is not a yes/no value'),
    ("color", "Purple", {}, '"Purple" is not an option of color'),
    ("color", "Gren", {}, 'did you mean "Green"?'),
    ("features", "Sunroof;Jetpack", {}, '"Jetpack" is not an option of features'),
    ("make", "x" * 70_000, {}, "70,000 characters long"),
]


@pytest.mark.parametrize("prop, cell, spec, message", BAD, ids=[f"{b[0]}-{str(b[1])[:12]}" for b in BAD])
def test_bad_cell_gives_a_message_and_no_value(prop, cell, spec, message):
    converted = values.convert(pd.Series([cell], dtype=object), PROPS[prop], ColumnSpec(property=prop, **spec))
    assert converted.canonical.tolist() == [None]
    assert message in converted.messages[0]


def test_conversion_keeps_the_row_index():
    cells = pd.Series(["1", "x", None], index=[7, 9, 12], dtype=object)
    converted = values.convert(cells, PROPS["year"])
    assert converted.canonical.to_dict() == {7: "1", 9: None, 12: None}
    assert converted.messages.notna().to_dict() == {7: False, 9: True, 12: False}


REMOTE = [
    ("price", "52000.0", "52000"),
    ("features", "bluetooth;sunroof", "sunroof;bluetooth"),
    ("features", "unknown_option;sunroof", "sunroof;unknown_option"),
    ("listing_date", "1572480000000", "2019-10-31"),
    ("listing_date", "2026-01-15T00:00:00.000Z", "2026-01-15"),
    ("last_serviced_at", "1572480000000", "2019-10-31T00:00:00.000Z"),
    ("last_serviced_at", "2019-10-30T03:30:17.883Z", "2019-10-30T03:30:17.883Z"),
    ("color", "red", "red"),
    ("color", "retired_option", "retired_option"),
    ("available", "true", "true"),
    ("make", "", None),
    ("make", None, None),
]


@pytest.mark.parametrize("prop, remote, expected", REMOTE, ids=[f"{r[0]}-{r[1]}" for r in REMOTE])
def test_normalize_remote(prop, remote, expected):
    series = pd.Series([remote], name=prop, dtype=object)
    assert values.normalize_remote(series, PROPERTIES).tolist() == [expected]


def test_normalize_remote_frame_keeps_unknown_columns_as_text():
    frame = pd.DataFrame({"price": ["1.50"], "hs_whatever": [" x "]}, dtype=object)
    assert values.normalize_remote(frame, PROPERTIES).to_dict("records") == [{"price": "1.5", "hs_whatever": "x"}]


CARS = mapping.load(REPO / "mappings" / "cars.yaml")
# Round trips run in UTC: local times repeated by a DST change cannot map back to two instants.
CARS_UTC = CARS.model_copy(update={"columns": {**CARS.columns, "Last serviced": ColumnSpec(property="last_serviced_at")}})


def test_to_cells_gives_natural_cells():
    remote = pd.DataFrame([{
        "vin": "V1", "year": "2024", "price": "1.5", "mileage": "123456789012345678901", "color": "blue",
        "listing_date": "2026-01-15", "features": "navigation;sunroof", "available": "false",
        "last_serviced_at": "2026-07-15T08:30:00.000Z", "dealer_phone": "+1 415 555 0132"}], index=[2], dtype=object)
    cells = values.to_cells(remote, CARS, PROPERTIES).loc[2]
    assert cells["Year"] == 2024 and type(cells["Year"]) is int
    assert cells["Listing price"] == 1.5
    assert cells["Mileage (km)"] == 123456789012345678901
    assert cells["Colour"] == "Dark blue"
    assert cells["Listed on"] == dt.date(2026, 1, 15)
    assert cells["Features"] == "Sunroof,Navigation"
    assert cells["Available"] is False
    assert cells["Last serviced"] == dt.datetime(2026, 7, 15, 10, 30)  # Europe/Paris, naive for Excel
    assert cells["Make"] is None


def test_to_cells_writes_option_values_when_asked():
    m = CARS.model_copy(update={"columns": {"Colour": ColumnSpec(property="color", options="value")}})
    remote = pd.DataFrame({"color": ["blue"]}, dtype=object)
    assert values.to_cells(remote, m, PROPERTIES)["Colour"].tolist() == ["blue"]


def test_canonicalize_sample_sheet_csv_and_xlsx_agree():
    xlsx = values.canonicalize(tables.read(CARS.source, sheet=CARS.sheet), CARS, PROPERTIES)
    csv = values.canonicalize(tables.read(REPO / "sample_data" / "cars.csv"), CARS, PROPERTIES)
    assert not xlsx.errors and not csv.errors
    assert xlsx.frame.equals(csv.frame)
    assert list(xlsx.frame.index[:2]) == [2, 3]
    assert "assoc:Owner email" in xlsx.frame.columns
    assert xlsx.frame["assoc:Owner email"].str.endswith("@example.com").all()


def test_canonicalize_reports_row_errors_with_place():
    local = values.canonicalize(tables.read(REPO / "sample_data" / "cars_with_errors.csv"), CARS, PROPERTIES)
    by_row = {e.row: e for e in local.errors}
    assert str(by_row[12]) == 'cars_with_errors.csv, row 12, column "Listed on": "31/02/2026" is not a date in format %d/%m/%Y'
    assert {5, 9, 12, 17, 21, 33, 38} <= local.error_rows
    assert local.frame.loc[12, "listing_date"] is None


# --- hypothesis: valid HubSpot value → cell → canonical is the identity; canonical is idempotent --

OPTION_VALUES = [o["value"] for o in PROPS["features"]["options"]]
REMOTE_VALUES = {
    "price": st.one_of(st.integers(-10**20, 10**20).map(str),
                       st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**12, max_value=10**12)
                       .map(lambda d: values._decimal_text(str(d)))),
    "listing_date": st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)).map(dt.date.isoformat),
    "last_serviced_at": st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2200, 1, 1))
    .map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"),
    "available": st.sampled_from(["true", "false"]),
    "color": st.sampled_from([o["value"] for o in PROPS["color"]["options"]]),
    "features": st.sets(st.sampled_from(OPTION_VALUES), min_size=1)
    .map(lambda s: ";".join(sorted(s, key=OPTION_VALUES.index))),
    "make": st.text(st.characters(blacklist_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]), min_size=1, max_size=40),
    "dealer_phone": st.from_regex(r"\+[1-9][0-9]{0,2}( [0-9]{2,4}){2,4}", fullmatch=True),
}


@pytest.mark.parametrize("prop", sorted(REMOTE_VALUES))
def test_round_trip_remote_to_cell_to_canonical(prop):
    @settings(max_examples=60, deadline=None)
    @given(st.lists(REMOTE_VALUES[prop], min_size=1, max_size=8))
    def check(remote_values):
        column = next(c for c, s in CARS_UTC.columns.items() if s.property == prop)
        remote = pd.DataFrame({prop: remote_values}, dtype=object)
        cells = values.to_cells(remote, CARS_UTC, PROPERTIES)
        table = tables.Table(frame=cells[[column]], path=Path("round.xlsx"))
        local = values.canonicalize(table, CARS_UTC, PROPERTIES)
        assert not local.errors, local.errors[:1]
        assert local.frame[prop].tolist() == remote_values
        again = values.normalize_remote(pd.Series(remote_values, name=prop, dtype=object), PROPERTIES)
        assert again.tolist() == remote_values  # canonical values are fixed points

    check()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=12), st.floats(allow_nan=False, allow_infinity=False),
                          st.integers(), st.booleans()), min_size=1, max_size=10),
       st.sampled_from(sorted(PROPS)))
def test_canonicalization_is_idempotent(cells, prop):
    first = values.convert(pd.Series(cells, dtype=object), PROPS[prop]).canonical
    second = values.convert(first, PROPS[prop]).canonical
    assert second.tolist() == first.tolist()


def test_long_numbers_keep_every_digit():
    number = "123456789012345678901234567890.000000000000000000001"
    assert canonical("price", number) == [number]
    cells = values.to_cells(pd.DataFrame({"price": [number]}), CARS, PROPERTIES)
    assert cells["Listing price"][0] == Decimal(number)


@pytest.mark.parametrize("cells", [["2024-01-01T10:00:00.123456789"], ["2024-01-01 10:00:00.123456789", "x"]],
                         ids=["alone", "with-a-bad-cell"])
def test_a_time_with_nanoseconds_reads_to_the_millisecond_hubspot_keeps(cells):
    """pandas parses such text to nanoseconds; it used to crash the conversion (a traceback in
    validate, plan and push). Digits below a millisecond go either way, as microseconds' do."""
    found = canonical("last_serviced_at", *cells, timezone="Europe/Paris")
    assert found[0] == "2024-01-01T09:00:00.123Z"


def test_a_wall_clock_time_past_the_last_instant_a_zone_can_reach_is_a_bad_cell_not_a_crash():
    found = canonical("last_serviced_at", "9999-12-31 23:00", "2024-05-01 10:00", timezone="America/New_York")
    assert found[1] == "2024-05-01T14:00:00.000Z"
    assert found[0].startswith('"9999-12-31 23:00" is too near the edge of the years 1 to 9999')


def test_a_time_its_zone_puts_in_year_0_is_a_bad_cell_with_the_reason():
    """0001-01-01 00:00 in Tokyo is 0000-12-31T14:41:01Z (local mean time): no year HubSpot holds,
    and no datetime Python reads back. It was sent as "0000-12-31T14:41:01.000Z"."""
    found = canonical("last_serviced_at", "0001-01-01T00:00", "0001-01-01T10:00", "abc", timezone="Asia/Tokyo")
    assert found[0] == ('"0001-01-01T00:00" is too near the edge of the years 1 to 9999 to convert from Asia/Tokyo '
                        'to UTC; HubSpot holds times within those years')
    assert found[1] == "0001-01-01T00:41:01.000Z"
    assert found[2] == '"abc" is not a date and time (YYYY-MM-DDTHH:MM:SS)'
    with_format = canonical("last_serviced_at", "01.01.0001 00:00", "0001-01-01T00:00", timezone="Asia/Tokyo",
                            format="%d.%m.%Y %H:%M")
    assert all(message.startswith(f'"{cell}" is too near the edge of the years 1 to 9999')
               for message, cell in zip(with_format, ["01.01.0001 00:00", "0001-01-01T00:00"]))


def test_an_offset_of_hours_alone_among_times_without_one_reads_as_that_offset():
    """pandas refuses a column mixing "+01" with times without an offset (a traceback before)."""
    found = canonical("last_serviced_at", "2024-01-01 10:00+01", "2024-01-01 10:00", "2024-06-01 10:00:00.123456789",
                      "not a time", timezone="Europe/Paris")
    assert found[:3] == ["2024-01-01T09:00:00.000Z", "2024-01-01T09:00:00.000Z", "2024-06-01T08:00:00.123Z"]
    assert found[3].startswith('"not a time" is not a date and time')
