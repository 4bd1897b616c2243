"""For maintainers: write the Korean notebooks from the English ones and their translations.

Run it as ``python3 tasks.py translate`` after editing a notebook or a translation. The Korean
notebook ``notebooks/ko/NN_name.ipynb`` is never edited by hand: it is the English notebook
``notebooks/NN_name.ipynb`` with

* every markdown cell's text replaced by its Korean text from the catalogue
  ``notebooks/translations/ko/NN_name.yaml``;
* the parameters cell's default ``lang = "en"`` made ``lang = "ko"``;
* the stored outputs of the check cells left out: they are labkit's check report, whose text
  is in the notebook's language, so the English one would be wrong there, and the learner's
  first run writes it in Korean (the Korean notebooks are run by a test of their own, not
  compared by nbval). The other stored outputs are values such as ``(200, 'ok')`` or an ARN,
  the same in any language, and are kept;
* everything else as it is: code cells, cell ids, tags, the notebook's metadata.

A catalogue holds one entry per markdown cell, keyed by the cell's id::

    01-00:
      en: "3f9a1c0b7d2e"   # the first 12 hex digits of the sha256 of the English text
      ko: |
        ## 1. Slack 웹훅 만들기

An entry whose ``en`` hash is not the English cell's is *stale* (the English text changed
since it was translated); a markdown cell without an entry is *missing*; an entry whose cell
id is in no markdown cell is an *orphan*. A Korean notebook with stale or missing entries is
not written (unless ``--allow-missing``, which keeps the English text of those cells for work
in progress); orphans are reported, and the command then exits with 1.

    python3 tasks.py translate                  write every Korean notebook
    python3 tasks.py translate --check          report what is out of date; write nothing
    python3 tasks.py translate --todo           print the cells to (re)translate, as entries
    python3 tasks.py translate --only 01 02     these notebooks only
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
LANG = "ko"
# The check cells' output: labkit's check report, written in the notebook's language.
CHECK_REPORT_MIME = "application/vnd.labkit.checks+json"
_LANG_DEFAULT = re.compile(r'^lang = "en"', re.MULTILINE)


class TranslationError(Exception):
    """A catalogue that cannot be read, or a notebook that cannot be translated."""


def english_hash(text: str) -> str:
    """The hash a catalogue entry holds for the English text *text*: 12 hex digits."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def source_of(cell: nbformat.NotebookNode) -> str:
    """A cell's source as one string."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


@dataclass
class Findings:
    """What a catalogue lacks for its English notebook (cells, by id, in notebook order)."""

    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[str]:
        """The cells whose Korean text is missing or out of date."""
        return self.missing + self.stale


def load_catalogue(path: Path) -> dict[str, dict[str, str]]:
    """The entries of the catalogue *path* (none if it does not exist), checked for shape."""
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TranslationError(f"{path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TranslationError(f"{path} must map cell ids to entries, not hold a "
                               f"{type(data).__name__}")
    entries = {}
    for cell_id, entry in data.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("ko"), str)
                and isinstance(entry.get("en"), str)):
            raise TranslationError(
                f"{path}: the entry {cell_id!r} needs 'en' (the English text's hash, in "
                "quotes) and 'ko' (the Korean text)")
        entries[str(cell_id)] = entry
    return entries


def compare(notebook: nbformat.NotebookNode, catalogue: dict[str, dict[str, str]]) -> Findings:
    """Which of *notebook*'s markdown cells lack an up-to-date entry, and which entries have
    no cell."""
    findings = Findings()
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        entry = catalogue.get(cell.id)
        if entry is None:
            findings.missing.append(cell.id)
        elif entry["en"] != english_hash(source_of(cell)):
            findings.stale.append(cell.id)
    # Only markdown cells are translated: an entry for a code cell's id is an orphan too.
    ids = {cell.id for cell in notebook.cells if cell.cell_type == "markdown"}
    findings.orphans = [cell_id for cell_id in catalogue if cell_id not in ids]
    return findings


def translate(english: nbformat.NotebookNode, catalogue: dict[str, dict[str, str]], *,
              allow_missing: bool = False) -> nbformat.NotebookNode:
    """The Korean notebook made from *english* and its *catalogue* (see the module's text).

    Raises :class:`TranslationError` when an entry is missing or stale, unless
    *allow_missing*: then those cells keep their English text.
    """
    findings = compare(english, catalogue)
    if findings.blocking and not allow_missing:
        raise TranslationError(f"missing: {findings.missing}, stale: {findings.stale}")
    korean = copy.deepcopy(english)
    parameters_cells = 0
    for cell in korean.cells:
        if cell.cell_type == "markdown":
            if cell.id not in findings.blocking:
                cell.source = catalogue[cell.id]["ko"].rstrip("\n")
        elif cell.cell_type == "code":
            if "parameters" in cell.metadata.get("tags", []):
                parameters_cells += 1
                source, count = _LANG_DEFAULT.subn('lang = "ko"', source_of(cell))
                if count != 1:
                    raise TranslationError(f"the parameters cell {cell.id} has no line "
                                           '`lang = "en"` to make Korean')
                cell.source = source
            if any(CHECK_REPORT_MIME in output.get("data", {}) for output in cell.outputs):
                cell.outputs = []
                cell.execution_count = None
    if parameters_cells != 1:
        raise TranslationError(f"the notebook has {parameters_cells} parameters cells, not one")
    return korean


def as_text(notebook: nbformat.NotebookNode) -> str:
    """*notebook* as the repository stores notebooks (nbformat's JSON and a final newline)."""
    return nbformat.writes(notebook) + "\n"


def catalogue_path(notebooks_dir: Path, english: Path) -> Path:
    """Where the Korean catalogue of the English notebook *english* is."""
    return notebooks_dir / "translations" / LANG / f"{english.stem}.yaml"


def korean_path(notebooks_dir: Path, english: Path) -> Path:
    """Where the Korean notebook made from *english* is written."""
    return notebooks_dir / LANG / english.name


def english_notebooks(notebooks_dir: Path, only: list[str] | None = None) -> list[Path]:
    """The English ``NN_name.ipynb`` notebooks of *notebooks_dir*, optionally narrowed by
    *only* (numbers or names, as ``labkit run --only`` takes them)."""
    from labkit.batch.notebooks import default_notebooks

    return default_notebooks(notebooks_dir, only)


@dataclass
class Outcome:
    """One notebook's result: what the catalogue lacks, and its generated text (None when
    refused)."""

    english: Path
    findings: Findings
    text: str | None


def generate(notebooks_dir: Path, english: Path, *, allow_missing: bool = False) -> Outcome:
    """Translate one English notebook; its findings and the Korean notebook's text."""
    notebook = nbformat.read(english, as_version=4)
    catalogue = load_catalogue(catalogue_path(notebooks_dir, english))
    findings = compare(notebook, catalogue)
    if findings.blocking and not allow_missing:
        return Outcome(english, findings, None)
    return Outcome(english, findings,
                   as_text(translate(notebook, catalogue, allow_missing=allow_missing)))


def first_line(cell: nbformat.NotebookNode) -> str:
    """The first non-blank line of a cell, to name it in a message."""
    return next((line.strip() for line in source_of(cell).splitlines() if line.strip()), "")


def describe(outcome: Outcome, notebooks_dir: Path) -> list[str]:
    """Lines that tell a maintainer what *outcome*'s catalogue lacks."""
    notebook = nbformat.read(outcome.english, as_version=4)
    cells = {cell.id: cell for cell in notebook.cells}
    catalogue = catalogue_path(notebooks_dir, outcome.english).relative_to(notebooks_dir.parent)
    lines = []
    for kind, ids in (("missing", outcome.findings.missing), ("stale", outcome.findings.stale)):
        lines += [f"{catalogue}: {kind} entry for cell {cell_id}: {first_line(cells[cell_id])}"
                  for cell_id in ids]
    lines += [f"{catalogue}: orphan entry {cell_id}: no markdown cell has this id"
              for cell_id in outcome.findings.orphans]
    return lines


def todo(outcome: Outcome, notebooks_dir: Path) -> str:
    """The cells of *outcome* to (re)translate, written as catalogue entries to fill in: the
    English text stands where the Korean goes."""
    notebook = nbformat.read(outcome.english, as_version=4)
    cells = {cell.id: cell for cell in notebook.cells}
    catalogue = catalogue_path(notebooks_dir, outcome.english).relative_to(notebooks_dir.parent)
    ids = [i for i in cells if i in outcome.findings.blocking]
    lines = [f"# {catalogue}: {len(ids)} to translate (replace the English under ko:)"]
    for cell_id in ids:
        kind = "stale" if cell_id in outcome.findings.stale else "missing"
        text = source_of(cells[cell_id])
        lines += [f"{cell_id}:  # {kind}", f'  en: "{english_hash(text)}"', "  ko: |"]
        lines += [f"    {line}".rstrip() for line in text.splitlines()]
    lines += [f"# orphan entry {cell_id}: delete it" for cell_id in outcome.findings.orphans]
    return "\n".join(lines)


def main(argv: list[str] | None = None, notebooks_dir: Path = ROOT / "notebooks") -> int:
    """The command line; its exit code (1 when anything is missing, stale, orphan or out of
    date)."""
    parser = argparse.ArgumentParser(prog="python3 tasks.py translate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="report missing, stale and orphan entries and Korean notebooks "
                           "that differ from what would be written; write nothing")
    mode.add_argument("--todo", action="store_true",
                      help="print, per notebook, the cells to (re)translate with their ids, "
                           "hashes and English text; write nothing")
    parser.add_argument("--allow-missing", action="store_true",
                        help="write even with missing or stale entries, keeping those cells' "
                             "English text (for work in progress)")
    parser.add_argument("--only", nargs="+", metavar="NN", help="these notebooks only")
    args = parser.parse_args(argv)

    from labkit.errors import LabError

    problems = 0
    try:
        outcomes = [generate(notebooks_dir, path, allow_missing=args.allow_missing)
                    for path in english_notebooks(notebooks_dir, args.only)]
    except (TranslationError, LabError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        if args.todo:
            if outcome.findings.blocking or outcome.findings.orphans:
                print(todo(outcome, notebooks_dir) + "\n")
                problems += 1
            continue
        for line in describe(outcome, notebooks_dir):
            print(line)
        # With --allow-missing, missing and stale entries are what the maintainer asked for.
        findings = outcome.findings
        problems += bool(findings.orphans or (findings.blocking and not args.allow_missing))
        target = korean_path(notebooks_dir, outcome.english)
        shown = target.relative_to(notebooks_dir.parent)
        if outcome.text is None:
            print(f"{shown}: not written (translate the cells above, or --allow-missing)")
            continue
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == outcome.text:
            continue
        if args.check:
            print(f"{shown}: out of date (run python3 tasks.py translate)")
            problems += 1
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(outcome.text, encoding="utf-8", newline="\n")
            print(f"{shown}: written")
    if args.todo and not problems:
        print("Every markdown cell has an up-to-date Korean entry.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
