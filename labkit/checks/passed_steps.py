"""Which steps a learner finished on which local cloud, to notice a restarted cloud.

moto keeps everything in memory: when the local cloud restarts, what the earlier notebooks made
is gone. Each passed check records its step with the cloud's id; the next notebook compares ids.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def _path(home: Path, student: str) -> Path:
    folder = home / "progress"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{student or 'default'}.json"


def _write(home: Path, student: str, record: dict) -> None:
    # Whole file or nothing: a notebook of the same learner reading at that moment never sees
    # half a record (and would otherwise take it for "no progress").
    path = _path(home, student)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(record))
    os.replace(partial, path)


def read(home: Path, student: str) -> dict:
    try:
        return json.loads(_path(home, student).read_text())
    except (OSError, ValueError):
        return {"cloud_id": None, "steps": []}


def lost_steps(record: dict, cloud_id: str) -> list[str]:
    """Steps done on an earlier cloud, whose resources a restart has wiped out."""
    if record.get("cloud_id") in (None, cloud_id):
        return []
    return sorted(record.get("steps", []))


def start_on(home: Path, student: str, cloud_id: str) -> list[str]:
    """Note that the learner works on *cloud_id*; returns the steps lost since the last time."""
    record = read(home, student)
    lost = lost_steps(record, cloud_id)
    if record.get("cloud_id") != cloud_id:
        record = {"cloud_id": cloud_id, "steps": []}
        _write(home, student, record)
    return lost


def mark_done(home: Path, student: str, cloud_id: str, step: str) -> None:
    record = read(home, student)
    if record.get("cloud_id") != cloud_id:
        record = {"cloud_id": cloud_id, "steps": []}
    if step not in record["steps"]:
        record["steps"].append(step)
    _write(home, student, record)
