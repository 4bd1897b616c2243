"""What a batch run found: each notebook's outcome and checks, ``summary.json`` and the table.

Also what is read from an executed notebook (its checks) and done to it (webhook URLs masked).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..masking import find_webhook_urls, mask_secrets

if TYPE_CHECKING:
    # Imported where used: with jsonschema's format checkers they take about a second to load,
    # which every `labkit` command would pay, `labkit --help` included.
    import nbformat


#: MIME type of the bundle a notebook's check cell displays.
CHECKS_MIME = "application/vnd.labkit.checks+json"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


STATUS_ICONS = {"passed": "✅", "failed": "❌", "skipped": "⏭"}


@dataclass
class NotebookResult:
    """The outcome of one notebook in a run.

    ``failed_cell`` is papermill's 0-based index of the failing cell in the executed copy
    (it counts the injected-parameters cell); ``failed_exec_count`` is the ``[n]`` Jupyter
    shows next to it, when the cell got that far.
    """

    notebook: str
    status: str  # "passed", "failed" or "skipped"
    seconds: float = 0.0
    checks_passed: int = 0
    checks_failed: int = 0
    failed_cell: int | None = None
    failed_exec_count: int | None = None
    error: str = ""
    output: Path | None = None
    masked_urls: int = 0

    @property
    def checks(self) -> str:
        """``passed/total`` for the summary, or an en dash when the notebook showed no checks."""
        total = self.checks_passed + self.checks_failed
        return f"{self.checks_passed}/{total}" if total else "–"

    @property
    def location(self) -> str:
        """Where it failed, e.g. ``02_sns_topic.ipynb, cell 7 [exec 5]``."""
        if self.failed_cell is None:
            return self.notebook
        where = f"{self.notebook}, cell {self.failed_cell}"
        if self.failed_exec_count is not None:
            where += f" [exec {self.failed_exec_count}]"
        return where


def read_checks(nb: nbformat.NotebookNode) -> tuple[int, int, int | None, int | None, str]:
    """Sum the check bundles an executed notebook displayed.

    Returns ``(passed, failed, cell_index, exec_count, first_failure)`` where the last three
    describe the first check cell that reported a failure (``None``/``""`` if none did).
    """
    passed = failed = 0
    fail_index = fail_exec = None
    first_failure = ""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") not in ("display_data", "execute_result"):
                continue
            bundle = output.get("data", {}).get(CHECKS_MIME)
            if bundle is None:
                continue
            if isinstance(bundle, str):  # a JSON string instead of an object is still valid
                bundle = json.loads(bundle)
            passed += int(bundle.get("passed", 0))
            cell_failed = int(bundle.get("failed", 0))
            failed += cell_failed
            if cell_failed and fail_index is None:
                fail_index, fail_exec = index, cell.get("execution_count")
                bad = [item for item in bundle.get("items", []) if not item.get("ok")]
                first_failure = str(bad[0].get("text", "")) if bad else ""
    return passed, failed, fail_index, fail_exec, first_failure


def _mask_strings(value: Any) -> Any:
    """*value* with :func:`mask_secrets` applied to every string in it, at any depth."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, list):
        return [_mask_strings(item) for item in value]
    if isinstance(value, dict):
        return {key: _mask_strings(item) for key, item in value.items()}
    return value


def mask_notebook_file(path: Path) -> int:
    """Mask every webhook URL in the notebook file *path*; return how many distinct URLs.

    The notebooks should never print a URL; this is the safety net for the copies on disk.
    Every string is masked (outputs, and sources too in case a URL was pasted into a cell).
    """
    text = path.read_text(encoding="utf-8")
    urls = set(find_webhook_urls(text))
    if urls:
        data = _mask_strings(json.loads(text))
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(urls)


def write_summary_json(out_dir: Path, results: list[NotebookResult],
                       parameters: dict[str, Any], finished: bool = True) -> Path:
    """Write ``summary.json`` (parameters and one entry per notebook) into *out_dir*.

    A run writes it after every notebook with *finished* false (``"finished": null``), and
    once more at the end with the time it finished: whoever follows the run from outside (a
    class rehearsal) reads each outcome as it comes, and a run that dies part-way still leaves
    the outcomes it had.
    """
    notebooks = []
    for result in results:
        entry = asdict(result)
        entry["output"] = result.output.name if result.output else None
        entry["seconds"] = round(result.seconds, 2)
        entry["checks"] = result.checks
        notebooks.append(entry)
    summary = {
        "finished": datetime.now().isoformat(timespec="seconds") if finished else None,
        "parameters": parameters,
        "passed": all(r.status != "failed" for r in results),
        "notebooks": notebooks,
    }
    path = out_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_summary_json(out_dir: Path) -> dict[str, Any] | None:
    """The ``summary.json`` of *out_dir*, or None when there is none yet (or it is being
    written at this very moment: read it again a little later)."""
    try:
        return json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def render_summary(results: list[NotebookResult]) -> Table:
    """A rich table with one row per notebook: status, seconds and checks."""
    table = Table(title="labkit run")
    table.add_column("notebook")
    table.add_column("status", justify="center")
    table.add_column("seconds", justify="right")
    table.add_column("checks", justify="right")
    for result in results:
        seconds = f"{result.seconds:.1f}" if result.status != "skipped" else "–"
        table.add_row(result.notebook, f"{STATUS_ICONS[result.status]} {result.status}",
                      seconds, result.checks)
    return table


def _shown(path: Path) -> str:
    """*path* relative to the cwd when it is below it: shorter to read and to copy."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_report(console: Console, results: list[NotebookResult], out_dir: Path) -> None:
    """Print the summary table, each failure's location and copy, a total line and the folder."""
    console.print(render_summary(results))
    for result in results:
        if result.status == "failed":
            # soft_wrap: keep each failure on one line, so logs stay greppable
            console.print(f"[red]✗[/] {escape(result.location)}: {escape(result.error)}",
                          highlight=False, soft_wrap=True)
            if result.output:
                console.print(f"  executed copy: {_shown(result.output)}", markup=False,
                              highlight=False, soft_wrap=True)
    counts = {status: sum(r.status == status for r in results)
              for status in ("passed", "failed", "skipped")}
    seconds = sum(r.seconds for r in results)
    checks_passed = sum(r.checks_passed for r in results)
    checks_total = checks_passed + sum(r.checks_failed for r in results)
    console.print(f"{counts['passed']} passed, {counts['failed']} failed, "
                  f"{counts['skipped']} skipped in {seconds:.1f} s; "
                  f"checks {checks_passed}/{checks_total}", highlight=False, soft_wrap=True)
    console.print(f"Run folder: {_shown(out_dir)}", markup=False, highlight=False,
                  soft_wrap=True)


def one_line(ename: str, evalue: str, limit: int = 300) -> str:
    """``Name: message`` on one line, without colour codes or secrets.

    The lines of the message are joined, so a LabError's "what" and "→ next step" both show.
    """
    lines = [line.strip() for line in _ANSI.sub("", evalue or "").splitlines() if line.strip()]
    # Mask before cutting: a cut URL would no longer be recognised as one.
    message = mask_secrets(f"{ename}: {' '.join(lines)}" if lines else ename)
    return message if len(message) <= limit else message[: limit - 1] + "…"
