"""The solution markers in the workbook's notebooks (nbgrader's): where each exercise is.

Both the student edition (which blanks each region) and the nbgrader course (which puts a
test after each exercise) find the regions here.
"""

from __future__ import annotations

from dataclasses import dataclass

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


@dataclass(frozen=True)
class Region:
    """One solution region: its marker lines' indices in a cell's lines, and its code."""

    begin: int
    end: int
    indent: str
    code: str


def find_regions(source: str) -> list[Region]:
    """The solution regions of one cell's *source*; ValueError when the markers do not pair."""
    lines = source.split("\n")
    regions: list[Region] = []
    begin: int | None = None
    for index, line in enumerate(lines):
        marker = line.strip()
        if marker == BEGIN:
            if begin is not None:
                raise ValueError(f"line {index + 1}: {BEGIN} inside another region")
            begin = index
        elif marker == END:
            if begin is None:
                raise ValueError(f"line {index + 1}: {END} without {BEGIN}")
            indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
            regions.append(Region(begin, index, indent, "\n".join(lines[begin + 1:index])))
            begin = None
    if begin is not None:
        raise ValueError(f"line {begin + 1}: {BEGIN} without {END}")
    return regions
