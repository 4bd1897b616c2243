"""Progress of a batch run on the terminal: live bars on a terminal, plain lines otherwise."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from .report import STATUS_ICONS, NotebookResult


class Reporter:
    """Progress that shows nothing (``progress=False``); the base of the two visible kinds."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start_notebook(self, number: int, total: int, name: str) -> None:
        pass

    def kernel_ready(self, cells: int) -> None:
        pass

    def cell_started(self, index: int) -> None:
        pass

    def finished(self, number: int, total: int, result: NotebookResult) -> None:
        pass

    def warn(self, message: str) -> None:
        # Warnings show even when progress is off: they are about secrets.
        self.console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


class PlainReporter(Reporter):
    """One line per notebook start and end, for logs that are not a terminal (CI)."""

    def start_notebook(self, number: int, total: int, name: str) -> None:
        self.console.print(f"[{number}/{total}] {name} ...", markup=False, highlight=False,
                           soft_wrap=True)

    def finished(self, number: int, total: int, result: NotebookResult) -> None:
        line = f"[{number}/{total}] {result.notebook} {result.status}"
        if result.status != "skipped":
            line += f" in {result.seconds:.1f} s, checks {result.checks}"
        if result.error:
            line += f" - {result.error}"
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)


class LiveReporter(Reporter):
    """A live rich display: the run's notebooks, plus the cells of the current notebook."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.overall: TaskID | None = None
        self.cells: TaskID | None = None
        self.name = ""

    def __enter__(self) -> LiveReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start_notebook(self, number: int, total: int, name: str) -> None:
        if self.overall is None:
            self.overall = self.progress.add_task("notebooks", total=total)
        if self.cells is not None:
            self.progress.remove_task(self.cells)
        self.name = name
        # Total unknown until the kernel is up and the parameters cell injected.
        self.cells = self.progress.add_task(f"  {name}: starting kernel", total=None)

    def kernel_ready(self, cells: int) -> None:
        if self.cells is not None:
            self.progress.update(self.cells, total=cells, completed=0,
                                 description=f"  {self.name}: cells")

    def cell_started(self, index: int) -> None:
        if self.cells is not None:
            self.progress.update(self.cells, completed=index)

    def finished(self, number: int, total: int, result: NotebookResult) -> None:
        if self.overall is not None:
            self.progress.advance(self.overall)
        icon = STATUS_ICONS[result.status]
        line = f"{icon} {result.notebook}"
        if result.status != "skipped":
            line += f"  {result.seconds:.1f} s  checks {result.checks}"
        self.progress.console.print(line, markup=False, highlight=False)

    def warn(self, message: str) -> None:
        self.progress.console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


def reporter_for(console: Console, progress: bool) -> Reporter:
    if not progress:
        return Reporter(console)
    return LiveReporter(console) if console.is_terminal else PlainReporter(console)
