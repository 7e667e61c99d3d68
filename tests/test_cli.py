"""The command-line contract: help with an example everywhere, one-line errors, exit code 2."""

from __future__ import annotations

import click
import pytest

from jadis.cli.main import cli


def _all_commands() -> list[tuple[str, ...]]:
    ctx = click.Context(cli)
    found: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            found.append((*prefix, name))
            if isinstance(cmd, click.Group):
                walk(cmd, (*prefix, name))

    walk(cli, ())
    return found


def test_top_level_help(run_cli):
    code, out, _ = run_cli("--help")
    assert code == 0
    assert "Example" in out


@pytest.mark.parametrize("path", _all_commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help_with_example(run_cli, path):
    code, out, _ = run_cli(*path, "--help")
    assert code == 0, out
    assert "Example" in out, f"`jadis {' '.join(path)} --help` has no example"


def test_unknown_command_exits_2(run_cli):
    code, _, err = run_cli("no-such-command")
    assert code == 2
    assert "No such command" in err


def test_user_error_is_one_line_exit_2(run_cli):
    from jadis.cli.main import UserError

    @cli.command("_raise_for_test", hidden=True)
    def _raise() -> None:
        from jadis.errors import JadisError

        raise JadisError("something\nwrong with input")

    try:
        code, out, err = run_cli("_raise_for_test")
    finally:
        cli.commands.pop("_raise_for_test", None)
    assert code == UserError.exit_code == 2
    assert err.strip() == "jadis: error: something wrong with input"
    assert "Traceback" not in err


def test_unexpected_error_has_no_traceback(run_cli, monkeypatch):
    monkeypatch.delenv("JADIS_DEBUG", raising=False)

    @cli.command("_crash_for_test", hidden=True)
    def _crash() -> None:
        raise RuntimeError("boom")

    try:
        code, _, err = run_cli("_crash_for_test")
    finally:
        cli.commands.pop("_crash_for_test", None)
    assert code == 1
    assert "Traceback" not in err and "boom" in err
