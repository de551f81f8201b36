"""The fast paths of value conversion give exactly what the general path gives (issue #15).

A column of plain text (a CSV column, a workbook's text column) is converted by `values._convert_plain`
with str methods and dict look-ups mapped in C; `values._convert_general` (pandas string pipelines)
is the reference, and each fast helper is checked against the code it replaced (kept here). Every
value, message, dtype and index must agree. No timing here: speed is benchmarks/README.md's.
"""

from __future__ import annotations

import operator
import random

import numpy as np
import pandas as pd
import pytest

from syncer import values
from syncer.mapping import ColumnSpec

OPTIONS = [{"value": "red", "label": "Red"}, {"value": "blue", "label": "Dark blue"}, {"value": "1", "label": "2"},
           {"value": "2", "label": "One"}, {"value": "x y", "label": " Spaced "}, {"value": "Ünï", "label": "ünï"}]
PROPS = {
    "string": {"name": "model", "type": "string", "fieldType": "text"},
    "email": {"name": "email", "type": "string", "fieldType": "text", "hubspotDefined": True},
    "number": {"name": "price", "type": "number", "fieldType": "number"},
    "bool": {"name": "available", "type": "bool", "fieldType": "booleancheckbox"},
    "date": {"name": "listing_date", "type": "date", "fieldType": "date"},
    "datetime": {"name": "last_serviced_at", "type": "datetime", "fieldType": "date"},
    "enumeration": {"name": "color", "type": "enumeration", "fieldType": "select", "options": OPTIONS},
    "multi": {"name": "features", "type": "enumeration", "fieldType": "checkbox", "options": OPTIONS},
}
SPACES = ["", " ", "\t", "\u00a0", "\u3000", "\n", "\x1c", "\u200b"]
PIECES = {
    "string": ["a", "Model X", "É", "İ", "ß", "x" * 70_000, "'=1", "ﬀ", "K\u212a", "0", "-", "None", "nan"],
    "email": ["A@B.COM", "İx@y.com", "ß@S.de", "mixed@Case.Org", "ǅ@x"],
    "number": ["0", "-0", "+0", "00", "0.0", "0.5", "-0.5", ".5", "5.", "-5.", "01.50", "1234.56", "1234.560",
               "+1234.56", "1e3", "1.5E-2", "-0.000", "١٢", "1٣", "1,5", "abc", "9" * 400, "1e999999999", "0.0001",
               "100", "-100.0100", "12345678901234567890.5", "1_000", "inf", "NaN", "-", ".", "1e-400",
               "0." + "0" * 310 + "1", "²", "52000", "68744.45"],
    "bool": ["true", "TRUE", "Yes", "y", "N", "0", "1", "on", "OFF", "maybe", "İ", "tRuE", "ｙｅｓ"],
    "date": ["2024-02-29", "2023-02-29", "2024-01-01T00:00:00", "2024-01-01T10:00:00", "2024-01-01T00:00:00Z",
             "2024-01-01T00:00:00+01:00", "01/02/2024", "31/12/1999", "2024-13-01", "0001-01-01", "9999-12-31",
             "1900-01-01", "2024-03-31 00:00", "20240101", "2024-1-1", "x", "2024-06-30T00:00:00.000Z", "1969-12-31"],
    "datetime": ["2024-01-01 10:00", "2024-01-01T10:00:00", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00+0530",
                 "2024-01-01T10:00:00-05:00", "2024-03-31T02:30:00", "2024-10-27 02:30", "2024-10-27T02:30:00.123456",
                 "01/02/2024 10:00", "2024-01-01", "1700-01-01 00:00", "2300-01-01T00:00:00", "0001-01-01T00:00:00",
                 "1969-12-31T23:59:59.999Z", "2024-02-30 10:00", "x", "2024-01-01T24:00:00", "1700000000000",
                 "-1700000000", "2024-01-01T10:00Z", "2024-01-01 10:00:00.5"],
    "enumeration": ["red", "Red", "RED", "Dark blue", "dark BLUE", "blue", "1", "2", "One", "x y", "Spaced", "ünï",
                    "ÜNÏ", "green", "Ünï"],
    "multi": ["red", "Red,blue", "blue, red", "Dark blue;red", "1,2", "One,One", "green,red", ",,", "x y, Spaced"],
}
SPECS = {
    "date": [{}, {"format": "%d/%m/%Y"}],
    "datetime": [{}, {"timezone": "Europe/Paris"}, {"timezone": "America/New_York", "format": "%d/%m/%Y %H:%M"}],
    "enumeration": [{}, {"options": "value"}, {"values": {"Rouge": "red", "2": "2"}}],
    "multi": [{"separator": ","}, {"separator": ";", "options": "value"}],
}


def awkward_cells(kind_: str, rng: random.Random, n: int) -> list[str]:
    """Cells of one kind's usual and unusual forms, blanks of every sort, and stray spaces."""
    cells = []
    for _ in range(n):
        r = rng.random()
        if r < 0.1:
            cells.append(rng.choice(SPACES))
        else:
            cells.append(rng.choice(SPACES[:3]) * (r < 0.2) + rng.choice(PIECES[kind_])
                         + rng.choice(SPACES[:4]) * (r > 0.9))
    return cells


def same(a: pd.Series, b: pd.Series) -> None:
    """Equal index, dtype and values, each value of the same type (None is None, str is str)."""
    assert a.index.equals(b.index) and a.dtype == b.dtype and len(a) == len(b)
    wrong = [(p, q) for p, q in zip(a, b) if not ((p is None and q is None) or (type(p) is type(q) and p == q))]
    assert not wrong, wrong[:5]


def columns(seed: int):
    rng = random.Random(seed)
    for kind_, prop in PROPS.items():
        for extra in SPECS.get(kind_, [{}]):
            for n, dtype in [(40, object), (300, "str"), (300, "string"), (2500, "str"), (300, "mixed")]:
                cells = awkward_cells(kind_, rng, n)
                if dtype == "mixed":  # a workbook's text column: str and empty cells (None, NaN)
                    cells[3], cells[7] = None, np.nan
                    dtype = object
                series = pd.Series(cells, index=range(2, n + 2), dtype=dtype)
                yield kind_, prop, ColumnSpec(property=prop["name"], **extra), series


@pytest.mark.parametrize("remote", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_plain_text_columns_convert_as_the_general_path_does(seed, remote):
    checked = 0
    for kind_, prop, spec, cells in columns(seed):
        spec = ColumnSpec(property=prop["name"]) if remote else spec
        fast = values._convert_plain(cells, prop, spec, remote)
        general = values._convert_general(cells, prop, spec, remote)
        if fast is None:  # a kind or a column the fast path leaves to the general one
            assert kind_ == "multi" or (kind_ in {"date", "datetime"} and remote) or cells.map(type).isin([float]).any()
            continue
        same(fast.canonical, general.canonical)
        same(fast.messages, general.messages)
        assert fast.clean == general.messages.isna().all()
        whole = values.convert(cells, prop, spec, remote=remote)  # with the distinct-cell shortcut where it applies
        same(whole.canonical, general.canonical)
        same(whole.messages, general.messages)
        checked += 1
    assert checked >= (25 if remote else 40), checked


def test_a_long_column_of_each_kind_agrees_across_the_formatting_blocks():
    rng = random.Random(7)
    n = values._BLOCK + 1234
    for kind_ in ["number", "datetime", "date", "string", "bool", "enumeration"]:
        prop = PROPS[kind_]
        cells = pd.Series(awkward_cells(kind_, rng, n), dtype="str")
        spec = ColumnSpec(property=prop["name"], timezone="Europe/Paris" if kind_ == "datetime" else None)
        fast = values._convert(cells, prop, spec, False)
        general = values._convert_general(cells, prop, spec, False)
        same(fast.canonical, general.canonical)
        same(fast.messages, general.messages)


def test_iso_text_is_numpys_datetime_as_string_to_the_byte():
    rng = np.random.default_rng(3)
    first, last = -62_135_596_800_000, 253_402_300_799_999  # 0001-01-01 and 9999-12-31T23:59:59.999, in ms
    ticks = np.concatenate([
        rng.integers(first - 10**12, last + 10**12, 150_000),  # beyond years 1-9999 too (numpy writes those)
        rng.integers(-10**11, 10**11, 50_000),
        [first, last, first - 1, last + 1, 0, -1, 1, 86_399_999, -86_400_000, 951_782_400_000, 951_868_800_000],
    ])
    when = pd.Series(ticks.astype("datetime64[ms]").astype("datetime64[us]")).dt.tz_localize("UTC")
    when.iloc[[5, 70_000, 199_999]] = pd.NaT
    for unit, suffix, stamps in [("ms", "Z", when), ("D", "", when.dt.floor("D"))]:
        naive = stamps.dt.tz_convert(None).to_numpy(dtype=f"datetime64[{unit}]")
        expected = np.char.add(np.datetime_as_string(naive, unit=unit), suffix).astype(object)
        expected[np.isnat(naive)] = None
        got = values._iso_texts(stamps, unit, suffix)
        assert got.dtype == object and list(got) == list(expected)
    assert values._iso_texts(when.iloc[:0], "ms", "Z").tolist() == []


def test_offset_test_agrees_with_a_search_of_the_last_six_characters():
    def reference(text):  # the test before its shortcuts
        tails = map(operator.itemgetter(slice(-6, None)), values._texts(text))
        return np.fromiter(map(bool, map(values._OFFSET.search, tails)), dtype=bool, count=len(text))

    rng = random.Random(9)
    alphabet = "0123456789:+-Z T\nz é"
    cells = [None, "", "Z", "+01:00", "-0530", "Z\n", "+01:00\n", "x+0100\n", "+", "-1", "2026-01-01",
             "2026-01-01T10:00:00.000Z", "2026-01-01 10:00"]
    cells += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(20_000)]
    ascii_lines = [c.replace("\n", "").replace("é", "e") if c else c for c in cells]
    for sample in [cells, [c.replace("\n", "") if c else c for c in cells], ascii_lines, ["Z", "", "+0100"], [""],
                   ["x"], [], ["+"], ["", "Z"]]:
        text = pd.Series(sample, dtype="string")
        assert (values._has_offset(text).to_numpy() == reference(text)).all()
    assert values._offset_candidates([c or "" for c in ascii_lines]) is not None  # the bytes path ran


def test_a_number_cell_by_cell_is_the_general_rules():
    rng = random.Random(5)
    alphabet = "0123456789.-+eE ٣x"
    cells = PIECES["number"] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(30_000)]
    cells = [c.strip() for c in cells if c.strip()]
    number, _ = values._number(None, pd.Series(cells, dtype=values._TEXT), PROPS["number"], None, False)
    assert [values._number_text(c) for c in cells] == number.to_numpy(dtype=object, na_value=None).tolist()


def test_canonicalize_keeps_each_converted_column_and_names_its_bad_cells(tmp_path):
    from syncer import mapping, tables

    sheet = tmp_path / "cars.csv"
    sheet.write_text("VIN,Year,Colour\nA1,2020,Red\nA\u200b2,x,\nA3,,Purple\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text("object: cars\nid_property: vin\nsource: cars.csv\n"
                                     "columns:\n  VIN: vin\n  Year: year\n  Colour: color\n", encoding="utf-8")
    m = mapping.load(tmp_path / "m.yaml")
    props = [{"name": "vin", "type": "string", "fieldType": "text"}, PROPS["enumeration"],
             {"name": "year", "type": "number", "fieldType": "number"}]
    local = values.canonicalize(tables.read(sheet), m, props)
    assert local.frame.to_dict("index") == {2: {"vin": "A1", "year": "2020", "color": "red"},
                                            3: {"vin": "A\u200b2", "year": None, "color": None},
                                            4: {"vin": "A3", "year": None, "color": None}}
    assert [(e.row, e.column) for e in local.errors] == [(3, "VIN"), (3, "Year"), (4, "Colour")]
