"""What every versioned write to the project store shares: its errors, the ``corrections`` row,
the optimistic save and the map status.

Every correction is saved the same way (:func:`save_versioned`): in one write transaction the
current versions are read and compared with the ones the editor started from. If they still
match, the correction is recorded (status ``applied``) and the new versions are written; if
somebody saved meanwhile, nothing is applied, the refused correction is kept (status
``conflict``) and :class:`ConflictError` says who changed what and which correction holds the
refused work. Connections and transactions come from the :class:`~jadis.project.workspace.Project`
(``with project.transaction() as conn:``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from jadis.errors import JadisError
from jadis.project.gpkg import ProjectBusy
from jadis.project.workspace import Project

__all__ = ["STATUSES", "ConflictError", "Correction", "ProjectBusy", "Refuse", "Apply", "insert_correction",
           "describe_time", "promote_status", "save_versioned"]

T = TypeVar("T")

#: Map statuses, in the order a sheet goes through them.
STATUSES = ("registered", "segmented", "validated", "georeferenced")


class ConflictError(JadisError):
    """Somebody saved over the same region since you loaded it. Your edit was kept, not applied."""

    def __init__(self, message: str, *, tiles: Sequence[tuple[int, int]] = (),
                 correction_id: int | None = None) -> None:
        super().__init__(message)
        self.tiles = list(tiles)
        self.correction_id = correction_id


@dataclass(frozen=True)
class Correction:
    """One row of ``corrections``: what was changed (``target``), by whom, from which versions
    (``base``) to what (``result``; a ``str`` is stored as is, anything else as JSON)."""

    target: str
    map_id: int | None
    author: str
    created_at: str
    base: object
    result: object
    message: str


def _json(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def insert_correction(conn: sqlite3.Connection, correction: Correction, status: str) -> int:
    """Add ``correction`` to the history with ``status`` (``applied`` | ``conflict``); return its id."""
    cur = conn.execute(
        "INSERT INTO corrections (map_id, target, status, author, created_at, base, result, message) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (correction.map_id, correction.target, status, correction.author, correction.created_at,
         _json(correction.base), _json(correction.result), correction.message))
    return int(cur.lastrowid)


@dataclass(frozen=True)
class Apply(Generic[T]):
    """The base versions still hold: record ``correction`` and ``write(conn, correction_id)`` the new versions."""

    correction: Correction
    write: Callable[[sqlite3.Connection, int], T]


@dataclass(frozen=True)
class Refuse:
    """The base versions moved on: keep ``correction`` as a conflict (``keep(conn, correction_id)``
    stores what else it needs) and raise :class:`ConflictError` with ``error(correction_id)``."""

    correction: Correction
    error: Callable[[int], str]
    tiles: Sequence[tuple[int, int]] = ()
    keep: Callable[[sqlite3.Connection, int], None] | None = None


def save_versioned(project: Project, decide: Callable[[sqlite3.Connection], Apply[T] | Refuse]) -> T:
    """The optimistic save of every versioned correction, in one write transaction.

    ``decide(conn)`` reads the current versions and compares them with the editor's; it returns
    :class:`Apply` (the correction is recorded ``applied``, its ``write`` result is returned) or
    :class:`Refuse` (the correction is recorded ``conflict`` and kept, and :class:`ConflictError`
    is raised once that is committed). A :class:`JadisError` raised by ``decide`` records nothing.
    """
    with project.transaction() as conn:
        step = decide(conn)
        if isinstance(step, Apply):
            return step.write(conn, insert_correction(conn, step.correction, "applied"))
        cid = insert_correction(conn, step.correction, "conflict")
        if step.keep is not None:
            step.keep(conn, cid)
        error = ConflictError(step.error(cid), tiles=step.tiles, correction_id=cid)
    raise error


def promote_status(conn: sqlite3.Connection, map_id: int, status: str) -> None:
    """Raise ``maps.status`` to ``status`` if the map is at an earlier stage (never lower it)."""
    row = conn.execute("SELECT status FROM maps WHERE fid = ?", (map_id,)).fetchone()
    if row is not None and STATUSES.index(row["status"]) < STATUSES.index(status):
        conn.execute("UPDATE maps SET status = ? WHERE fid = ?", (status, map_id))


def describe_time(created_at: str) -> str:
    """``2024-05-01T10:22:33+00:00`` -> ``2024-05-01 10:22`` (how conflict messages say when)."""
    return created_at.replace("T", " ")[:16]
