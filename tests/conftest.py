"""Shared pytest fixtures. Tests never read ../shared: everything they need is in data/ or generated."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("JADIS_QUIET", "1")


@pytest.fixture()
def run_cli(capsys):
    """Run ``jadis ARGS`` in-process; return (exit_code, stdout, stderr)."""
    from jadis.cli.main import main

    def _run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return _run
