"""Where the workbook's notebooks are: the project root, the notebooks in order (in English in
``notebooks/``, in another language in ``notebooks/<lang>/``), run folders."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from ..defaults import DEFAULT_LANG
from ..errors import LabError


_NOTEBOOK_NAME = re.compile(r"^(\d{2})_.+\.ipynb$")
# Notebooks that build what they need and delete it at their end: nothing after them relies on
# them, so catching up skips them.
SELF_CONTAINED = frozenset({"08", "09"})


def find_project_root(start: Path | None = None) -> Path:
    """The folder that holds ``notebooks/``: *start* (default: the cwd) or a parent of it.

    Falls back to the folder next to the installed package, which is the project checkout.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]


def solutions_folder() -> Path:
    """The solution notebooks labkit carries (``labkit/solutions/``): what catch-up replays.

    They travel inside the package, so catching up works from a handout folder that holds
    only the exercises. ``python3 tasks.py package-solutions`` copies them from ``notebooks/``
    (outputs cleared); a test keeps the two identical.
    """
    return Path(__file__).resolve().parents[1] / "solutions"


def notebooks_folder(root: Path, lang: str | None = None) -> Path:
    """The folder of the workbook's notebooks in *lang* (default: English).

    *root* is the project root (its ``notebooks/`` folder is used) or the notebooks folder
    itself. The English notebooks are in it; those in another language in its subfolder named
    after the language (``notebooks/ko/``, made from the English ones by
    ``python3 tasks.py translate``). Where that subfolder does not exist, as in a student
    edition written in one language, the folder itself holds the notebooks to run.
    """
    folder = root / "notebooks" if (root / "notebooks").is_dir() else root
    if lang and lang != DEFAULT_LANG and (folder / lang).is_dir():
        return folder / lang
    return folder


def default_notebooks(root: Path, only: list[str] | None = None,
                      lang: str | None = None) -> list[Path]:
    """The workbook's ``NN_name.ipynb`` notebooks in *lang*, in the lesson's order, optionally
    narrowed by *only*.

    The lesson's order is the numbers' order with the cleanup last: notebook 09 turns the
    pipeline of 02-06 into a template, so it comes before the cleanup deletes that pipeline.

    *root* and *lang* choose the folder as :func:`notebooks_folder` says. Each *only* item
    selects by number (``01`` or ``1``), by name (``slack_webhook``) or by file name
    (``01_slack_webhook`` / ``01_slack_webhook.ipynb``). An item that matches nothing raises
    :class:`LabError`, so a typo never silently runs fewer notebooks.
    """
    folder = notebooks_folder(root, lang)
    notebooks = _cleanup_last(sorted(p for p in folder.glob("*.ipynb")
                                      if _NOTEBOOK_NAME.match(p.name)))
    if not only:
        return notebooks

    def matches(path: Path, item: str) -> bool:
        number = _NOTEBOOK_NAME.match(path.name).group(1)  # type: ignore[union-attr]
        if item.isdigit():
            return int(item) == int(number)
        return item in (path.name, path.stem, path.stem[3:])

    for item in only:
        if not any(matches(p, item) for p in notebooks):
            names = ", ".join(p.stem for p in notebooks) or "none"
            raise LabError(f"No notebook matches {item!r} in {folder}.",
                           f"Use a number or a name; available: {names}.")
    return [p for p in notebooks if any(matches(p, item) for item in only)]


def new_run_dir(root: Path) -> Path:
    """A new, empty ``runs/<YYYYmmdd-HHMMSS>`` folder under *root*."""
    base = root / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")
    folder, n = base, 1
    while folder.exists():  # two runs in the same second must not mix their copies
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    folder.mkdir(parents=True)
    return folder


def notebooks_before(root: Path, step: str, lang: str | None = None) -> list[Path]:
    """The notebooks in *lang* that come before *step* (a number like ``05``) in the lesson's
    order and leave something behind: what catch-up runs."""
    if not step.isdigit():
        raise LabError(f"{step!r} is not a step number.", "Give the notebook's number, e.g. 05.")
    ordered = default_notebooks(root, lang=lang)
    numbers = [p.name[:2] for p in ordered]
    wanted = f"{int(step):02d}"
    end = numbers.index(wanted) if wanted in numbers else sum(n < wanted for n in numbers)
    return [p for p in ordered[:end] if p.name[:2] not in SELF_CONTAINED]


def _cleanup_last(notebooks: list[Path]) -> list[Path]:
    """*notebooks* in the same order, with the cleanup notebook moved to the end."""
    return sorted(notebooks, key=lambda p: "cleanup" in p.stem)


def with_cleanup_last(notebooks: list[Path], root: Path, lang: str | None = None) -> list[Path]:
    """*notebooks* with the cleanup notebook (in *lang*) moved (or added) to the end."""
    cleanup = [p for p in default_notebooks(root, lang=lang) if "cleanup" in p.stem]
    return [p for p in notebooks if p not in cleanup] + cleanup
