"""A class roster: which learners (``student`` ids) take part, and which channel each posts to.

A roster file is either a plain list (one id per line, ``#`` starts a comment) or a CSV file
whose header names a ``student`` column and, optionally, a ``slack_channel`` column. A learner
without a channel of their own posts to the default channel given by the caller.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ..config import LabConfig
from ..defaults import DEFAULT_REGION, DEFAULT_SLACK_CHANNEL
from ..errors import LabError


@dataclass(frozen=True)
class Learner:
    """One learner of a class: their id and the Slack channel their lab posts to."""

    student: str
    slack_channel: str


def parse_roster(text: str, default_channel: str = DEFAULT_SLACK_CHANNEL) -> list[Learner]:
    """The learners in roster *text* (plain list or CSV), each id checked, none twice."""
    lines = [line for line in text.splitlines() if line.strip() and
             not line.lstrip().startswith("#")]
    if not lines:
        raise LabError("The roster lists no learner.",
                       "Write one student id per line (e.g. kim), or a CSV file with a "
                       "'student' column.")
    header = [cell.strip().lower() for cell in next(csv.reader([lines[0]]))]
    if "student" in header:
        rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:])), fieldnames=header))
        pairs = [((row.get("student") or "").strip(), (row.get("slack_channel") or "").strip())
                 for row in rows]
    else:
        pairs = [(line.strip().split(",")[0].strip(), "") for line in lines]
    learners: list[Learner] = []
    seen: set[str] = set()
    for number, (student, channel) in enumerate(pairs, start=1):
        if not student:
            raise LabError(f"Roster entry {number} has no student id.",
                           "Give every line a student id such as 'kim'.")
        if student in seen:
            raise LabError(f"{student!r} is listed twice in the roster.",
                           "Every learner needs an id of their own: their resources are named "
                           "after it.")
        seen.add(student)
        config = LabConfig(student=student, slack_channel=channel or default_channel,
                           known_regions=[DEFAULT_REGION])  # validates the id and channel
        learners.append(Learner(config.student, config.slack_channel))
    return learners


def load_roster(path: Path, default_channel: str = DEFAULT_SLACK_CHANNEL) -> list[Learner]:
    """Read the roster file *path* (see :func:`parse_roster`)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a CSV saved by Excel starts with a BOM
    except OSError as exc:
        raise LabError(f"Cannot read the roster {path}: {exc.strerror}.",
                       "Check the path given to --students.") from exc
    return parse_roster(text, default_channel)
