"""`syncer init`, `syncer validate` and `syncer mapping-schema` through the CLI, against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from syncer import mapping
from syncer.cli import cli
from syncer.hubspot import HubSpotClient

REPO = Path(__file__).resolve().parents[1]


def portal(sandbox) -> list[str]:
    return ["--base-url", sandbox.base_url, "--token", sandbox.token]


def test_property_snapshot_matches_the_sandbox(sandbox):
    """sample_data/cars.properties.json is what unit tests use offline; it must match the portal."""
    with HubSpotClient(sandbox.base_url, sandbox.token) as client:
        live = {p["name"]: p for p in client.properties("cars")}
    snapshot = json.loads((REPO / "sample_data" / "cars.properties.json").read_text())
    for prop in snapshot:
        if prop["name"] in live:
            served = live[prop["name"]]
            assert (served["type"], served["fieldType"], bool(served.get("hasUniqueValue"))) == \
                (prop["type"], prop["fieldType"], prop["hasUniqueValue"]), prop["name"]
            assert [(o["label"], o["value"]) for o in served.get("options") or []] == \
                [(o["label"], o["value"]) for o in prop["options"]], prop["name"]
    custom = [p["name"] for p in snapshot if not p.get("hubspotDefined")]
    assert set(custom) <= set(live)


def test_init_writes_a_mapping_and_lists_unmatched_columns(sandbox, tmp_path):
    output = tmp_path / "cars.yaml"
    result = CliRunner().invoke(cli, ["init", str(REPO / "sample_data" / "cars.csv"), "--object", "cars",
                                      "-o", str(output), *portal(sandbox)])
    assert result.exit_code == 0, result.output
    assert 'Not matched (add them by hand or leave them out): "Owner email", "Notes", "Last serviced"' in result.output \
        or '"Owner email"' in result.output
    m = mapping.load(output)
    assert m.object == "cars" and m.id_property == "vin"
    assert m.columns["VIN"].property == "vin" and m.columns["Colour"].property == "color"
    assert m.source == (REPO / "sample_data" / "cars.csv").resolve()


def test_init_prints_to_stdout_without_output(sandbox):
    result = CliRunner().invoke(cli, ["init", str(REPO / "sample_data" / "cars.xlsx"), "--object", "cars",
                                      "--id-property", "vin", *portal(sandbox)])
    assert result.exit_code == 0, result.output
    assert "object: cars\nid_property: vin\n" in result.output


def test_init_unknown_object_fails_cleanly(sandbox):
    result = CliRunner().invoke(cli, ["init", str(REPO / "sample_data" / "cars.csv"), "--object", "bikes", *portal(sandbox)])
    assert result.exit_code != 0 and "Traceback" not in result.output and "bikes" in result.output


def test_validate_names_mapping_problems_with_suggestions(sandbox, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(f"object: cars\nid_property: vin\nsource: {REPO / 'sample_data' / 'cars.csv'}\n"
                    "columns: {VIN: vin, Colour: colour}\n")
    result = CliRunner().invoke(cli, ["validate", str(path), *portal(sandbox)])
    assert result.exit_code == 2
    assert 'm.yaml: columns.Colour: object "cars" has no property "colour"; did you mean "color"?' in result.output


def test_mapping_schema_is_json_schema():
    result = CliRunner().invoke(cli, ["mapping-schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == mapping.json_schema()


def test_validate_finds_the_key_problems_push_would_refuse_in_its_words(sandbox, tmp_path):
    """Blank and repeated keys, as the planner finds them (syncer.keys): on canonical keys, every
    row of a repeated key named, and a key cell that is a bad value not also called blank."""
    import csv

    with (REPO / "sample_data" / "cars.csv").open(newline="", encoding="utf-8") as source:
        rows = list(csv.reader(source))[:6]
    rows[2][0] = ""                                   # sheet row 3: blank
    rows[5][0] = " " + rows[4][0] + " "               # sheet rows 5 and 6: one key once stripped
    sheet = tmp_path / "cars.csv"
    with sheet.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    path = tmp_path / "m.yaml"
    path.write_text(f"object: cars\nid_property: vin\nsource: {sheet}\ncolumns: {{VIN: vin, Make: make}}\n")
    result = CliRunner().invoke(cli, ["validate", str(path), *portal(sandbox)])
    assert result.exit_code == 2, result.output
    key = rows[4][0]
    assert "row 3: no value for the id property vin" in result.output
    assert f"row 5: vin '{key}' appears on more than one row (5, 6)" in result.output
    assert f"row 6: vin '{key}' appears on more than one row (5, 6)" in result.output
