"""The README documents every command, every command has help, and CI runs the README's test command."""

from __future__ import annotations

import re

import click
import pytest

from conftest import REPO
from syncer.cli import cli

README = (REPO / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "syncer"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from commands(command, path)
        else:
            yield path, command


@pytest.mark.parametrize(("path", "command"), list(commands(cli)), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_is_in_the_readme_and_has_help(path, command):
    assert f"`{path}" in README, f"{path} is missing from README.md"
    assert command.help and len(command.help) > 20


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    test_command = re.search(r"```sh\n(pip install -q -e '\.\[test\]'.*)\n```", README).group(1)
    assert test_command in ci
