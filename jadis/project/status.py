"""How far each map of a project is: segmented, tiles reviewed, georeferenced."""

from __future__ import annotations

from dataclasses import dataclass, field

from jadis.project.maps import MapRecord, list_maps, verify_map
from jadis.project.tiles import tile_states
from jadis.project.workspace import Project


@dataclass(frozen=True)
class MapStatus:
    record: MapRecord
    tiles_total: int
    tiles_accepted: int
    tiles_rejected: int
    georef_version: int | None
    georef_transform: str | None
    georef_rmse_m: float | None
    problem: str | None = None
    #: ``{step: {"status": "done"|"failed", "message", ...}}`` (see :func:`jadis.project.batch.step_states`)
    steps: dict = field(default_factory=dict)

    @property
    def steps_text(self) -> str:
        """``segment ✓ georef ✗ names · warp ·`` (✓ done, ✗ failed, · to do)."""
        from jadis.project.batch import STEPS

        marks = {"done": "✓", "failed": "✗"}
        return " ".join(f"{step} {marks.get(self.steps.get(step, {}).get('status'), '·')}" for step in STEPS)

    @property
    def segmented(self) -> bool:
        return self.tiles_total > 0

    @property
    def validated(self) -> bool:
        return self.segmented and self.tiles_accepted + self.tiles_rejected == self.tiles_total

    @property
    def georeferenced(self) -> bool:
        return self.georef_version is not None


@dataclass(frozen=True)
class ProjectSummary:
    maps: list[MapStatus]
    corrections: int
    conflicts: int
    geocode_runs: int


def map_status(project: Project, record: MapRecord, *, verify: bool = False) -> MapStatus:
    """The review and georeferencing state of one map, and the state of its steps."""
    from jadis.project.batch import step_states

    states = tile_states(project, record.id)
    accepted = sum(1 for s in states.values() if s.decision == "accepted")
    rejected = sum(1 for s in states.values() if s.decision == "rejected")
    with project.connection() as conn:
        row = conn.execute("SELECT version, transform, rmse_m FROM georefs_current WHERE map_id = ?",
                           (record.id,)).fetchone()
    problem = None
    if verify:
        problem = verify_map(record)
    elif not record.path.exists():
        problem = f"{record.path}: file is missing"
    return MapStatus(record, len(states), accepted, rejected,
                     int(row["version"]) if row else None, row["transform"] if row else None,
                     float(row["rmse_m"]) if row and row["rmse_m"] is not None else None, problem,
                     step_states(project, [record.id]).get(record.id, {}))


def project_summary(project: Project, *, verify: bool = False) -> ProjectSummary:
    """Every map's status plus counts of corrections and geocoding runs."""
    statuses = [map_status(project, r, verify=verify) for r in list_maps(project)]
    with project.connection() as conn:
        corrections = int(conn.execute("SELECT COUNT(*) FROM corrections").fetchone()[0])
        conflicts = int(conn.execute("SELECT COUNT(*) FROM corrections WHERE status = 'conflict'").fetchone()[0])
        runs = int(conn.execute("SELECT COUNT(*) FROM geocode_runs").fetchone()[0])
    return ProjectSummary(statuses, corrections, conflicts, runs)
