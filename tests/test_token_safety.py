"""The access token never appears in output, logs, exceptions, plan files or reports."""

from __future__ import annotations

import logging
import zipfile

from click.testing import CliRunner

from conftest import copy_project
from syncer.cli import cli
from syncer.sandbox import Sandbox

TOKEN = "pat-na1-0123abcd-SECRET-9876"


def test_no_file_or_output_of_a_full_run_contains_the_token(tmp_path, monkeypatch, caplog):
    copy_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    with Sandbox(token=TOKEN, faults="503:0.2,429:0.1", fault_seed=5) as portal:
        portal_args = ["--base-url", portal.base_url, "--token", TOKEN]
        outputs = [
            runner.invoke(cli, ["--traceback", "plan", "mappings/cars.yaml", "-o", "plan.json",
                                "--review", "review.xlsx", *portal_args]),
            runner.invoke(cli, ["push", "mappings/cars.yaml", "--yes", "--write-back", "--report",
                                "report.json", *portal_args]),
            runner.invoke(cli, ["apply", "plan.json", "--yes", "--report", "report.csv", *portal_args]),
            runner.invoke(cli, ["info", *portal_args]),
            runner.invoke(cli, ["export", "mappings/cars.yaml", "-o", "export.xlsx", *portal_args]),
            runner.invoke(cli, ["sync", "mappings/cars.yaml", "--json", *portal_args]),
            runner.invoke(cli, ["push", "mappings/cars.yaml", "--yes", "--base-url", portal.base_url,
                                "--token", TOKEN + "-wrong"]),
        ]
    assert [r.exit_code for r in outputs] == [0, 0, 1, 0, 0, 0, 3]
    texts = [r.output for r in outputs] + [caplog.text]
    texts += [str(r.exception) for r in outputs if r.exception]
    for path in tmp_path.rglob("*"):
        if path.suffix == ".xlsx":  # a zip: read what is inside
            with zipfile.ZipFile(path) as book:
                texts += [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
        elif path.is_file():
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    assert any("review.xlsx" in str(p) for p in tmp_path.rglob("*.xlsx"))
    assert all("0123abcd" not in text for text in texts)
