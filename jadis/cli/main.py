"""Entry point of the ``jadis`` program.

Sub-commands are registered in :data:`COMMANDS` as ``"module:attribute"`` and imported only when
used, so ``jadis --help`` stays fast (no torch import). Every command must have a docstring with an
``Example:`` section. :class:`~jadis.errors.JadisError` becomes a one-line message and exit code 2,
as do the operating system's refusals about the user's files (permission denied, a folder where a
file is expected, a full disk…) and a project store locked by another writer. Warnings are printed
as one line each (``jadis: warning: …``).
"""

from __future__ import annotations

import errno
import importlib
import importlib.util
import os
import sqlite3
import sys
import traceback
import warnings
from collections.abc import Callable

import click

from jadis import __version__
from jadis.errors import JadisError, JadisWarning, shorten

#: name -> "module:attribute" of a click command or group. Add new commands here.
COMMANDS: dict[str, str] = {
    "segment": "jadis.cli.segment:segment",
    "train": "jadis.cli.train:train",
    "synth": "jadis.cli.synth:synth",
    "georef": "jadis.cli.georef:georef",
    "geocode": "jadis.cli.geocode:geocode",
    "gazetteer": "jadis.cli.gazetteer:gazetteer",
    "project": "jadis.cli.project:project",
    "batch": "jadis.cli.batch:batch",
    "app": "jadis.cli.app:app",
    "demo": "jadis.cli.demo:demo",
}

EXIT_BAD_INPUT = 2

#: OSError numbers that mean "something is wrong with the user's files or disk", not a bug.
_USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENAMETOOLONG,
                errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ETXTBSY}

#: rasterio's NotGeoreferencedWarning texts: a plain scan has no georeferencing, which is normal.
_SILENCED_WARNINGS = (r"Dataset has no geotransform", r"The given matrix is equal to Affine\.identity")

#: Longest message printed (a message echoing a huge argument is cut in the middle).
_MAX_MESSAGE = 400


class UserError(click.ClickException):
    """A user-facing error on its way out of the CLI (JadisError, a refused file, a bad option value):
    printed as one line, exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file=None) -> None:  # click's signature
        click.echo(f"jadis: error: {self.format_message()}", err=True)


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.available(ctx)})

    def available(self, ctx: click.Context) -> list[str]:
        names = []
        for name, target in self.lazy.items():
            module = target.split(":")[0]
            if importlib.util.find_spec(module) is not None:
                names.append(name)
        return names

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        target = self.lazy.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        if importlib.util.find_spec(module_name) is None:
            return None
        command = getattr(importlib.import_module(module_name), attr)
        self.commands[cmd_name] = command
        return command

    def invoke(self, ctx: click.Context):  # click's signature
        try:
            return super().invoke(ctx)
        except JadisError as exc:
            raise UserError(_one_line(exc)) from exc
        except click.UsageError as exc:  # a bad option value of a sub-command: one line too
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as click shows it
                raise
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            raise UserError(_one_line(exc.format_message()) + where) from exc
        except OSError as exc:
            message = _os_error_message(exc)
            if message is None:
                raise
            raise UserError(message) from exc
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise UserError("the project is busy: another program is writing to it; try again later") from exc


def _one_line(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split())
    if len(text) > _MAX_MESSAGE:
        text = shorten(text, _MAX_MESSAGE)
    return text or type(exc).__name__


def _os_error_message(exc: OSError) -> str | None:
    """A one-line message for an OSError caused by the user's files or disk (else None: a bug)."""
    if exc.errno not in _USER_ERRNOS:
        return None
    reason = exc.strerror or type(exc).__name__
    target = exc.filename2 or exc.filename  # os.replace(tmp, dest): name the destination
    if target is None:
        return reason
    return f"{shorten(os.fsdecode(target))}: {reason}"


def _warning_printer() -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints each warning as one line on stderr, once (with where
    it was raised too when JADIS_DEBUG=1)."""
    shown: set[str] = set()

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: object = None, line: str | None = None) -> None:
        text = _one_line(message)
        if not issubclass(category, JadisWarning):
            text = f"{category.__name__}: {text}"
        if text in shown:
            return
        shown.add(text)
        if os.environ.get("JADIS_DEBUG"):
            text += f" ({filename}:{lineno})"
        click.echo(f"jadis: warning: {text}", err=True)

    return show


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jadis")
def cli() -> None:
    """jadis: scanned historical maps of Paris -> GIS data.

    Segment map sheets into streets, building blocks and text labels, georeference them,
    geocode historical addresses on the streets of their year, and review everything in a web app.

    \b
    Example:
      jadis segment data/samples/atlas_municipal_1925_crop.png --out out/
      jadis segment --help
    """


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Unexpected errors print one line (full traceback with JADIS_DEBUG=1)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer()
            for text in _SILENCED_WARNINGS:
                warnings.filterwarnings("ignore", message=text)
            cli.main(args=argv, prog_name="jadis", standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("jadis: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence: no tracebacks for users
        if os.environ.get("JADIS_DEBUG"):
            traceback.print_exc()
        else:
            click.echo(f"jadis: internal error: {type(exc).__name__}: {_one_line(exc)} "
                       "(run with JADIS_DEBUG=1 for details; please report it)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
