"""pyproject.toml lists the dependencies, the locks pin them, environment.yml says the same.

requirements.lock pins the whole environment (the lab and the test tools); requirements-lab.lock
the lab's part of it, which `python3 tasks.py lab` installs.
"""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
LAB_LOCK = ROOT / "requirements-lab.lock"
LOCK_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)"
                       r"\s*(?:;\s*(?P<marker>.+))?$")
# How uv's annotations name the project itself as the reason for a package.
THE_PROJECT = "labkit (pyproject.toml)"
FIX = "run `python3 tasks.py lock` and commit requirements.lock"


def _pyproject_requirements(extras: bool = True) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return {r.replace(" ", "") for r in project["dependencies"] + (optional if extras else [])}


def _conda_pip_section() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def _conda_pip_requirements() -> set[str]:
    # Options (-e, -c) are not requirements.
    return {r.replace(" ", "") for r in _conda_pip_section() if not r.startswith("-")}


def _lock(path: Path = LOCK) -> dict[str, list[dict]]:
    """Each locked package (canonical name): its pins, each with marker and what it is there for."""
    locked: dict[str, list[dict]] = {}
    entry = None
    for line in path.read_text().splitlines():
        found = LOCK_LINE.match(line)
        if found:
            entry = {"version": found["version"], "marker": found["marker"], "via": []}
            locked.setdefault(canonicalize_name(found["name"]), []).append(entry)
        elif entry is not None and line.startswith("    #"):
            # "# via a" on one line, or "# via" followed by "#   a" lines.
            reason = line.strip().lstrip("#").strip()
            if reason != "via":
                entry["via"].append(reason.removeprefix("via "))
    return locked


def _pins(locked: dict[str, list[dict]]) -> set[tuple[str, str, str | None]]:
    return {(name, pin["version"], pin["marker"]) for name, pins in locked.items() for pin in pins}


def _moto_requirement(requirements: set[str]) -> Requirement:
    return next(Requirement(r) for r in requirements if Requirement(r).name == "moto")


def test_environment_yml_lists_exactly_the_pyproject_dependencies():
    assert _conda_pip_requirements() == _pyproject_requirements()


def test_environment_yml_installs_the_project_itself():
    assert "-e ." in _conda_pip_section()


def test_environment_yml_installs_the_locked_versions():
    assert "-c requirements.lock" in _conda_pip_section()


def test_every_direct_dependency_is_locked_at_a_version_it_allows():
    locked = _lock()
    for text in _pyproject_requirements():
        requirement = Requirement(text)
        pins = locked.get(canonicalize_name(requirement.name))
        assert pins, f"{requirement.name} is not in requirements.lock: {FIX}"
        for pin in pins:
            assert requirement.specifier.contains(pin["version"], prereleases=True), (
                f"requirements.lock has {requirement.name}=={pin['version']}, "
                f"pyproject.toml asks for {text}: {FIX}")


def test_the_lock_holds_only_what_pyproject_asks_for():
    # A dependency dropped from pyproject.toml still in the lock would still be installed.
    locked = _lock()
    direct = {canonicalize_name(Requirement(r).name) for r in _pyproject_requirements()}
    locked_as_direct = {name for name, pins in locked.items()
                        if any(THE_PROJECT in pin["via"] for pin in pins)}
    assert locked_as_direct == direct, FIX
    for name, pins in locked.items():
        for pin in pins:
            reasons = {canonicalize_name(r) for r in pin["via"] if r != THE_PROJECT}
            assert pin["via"] and reasons <= set(locked), (name, pin["via"])


def test_the_lab_lock_is_exactly_what_the_lab_needs_at_the_same_versions():
    # What the dependencies without extras reach in the whole lock's graph, and nothing else.
    locked = _lock()
    needed_by: dict[str, set[str]] = {}
    for name, pins in locked.items():
        for pin in pins:
            for reason in pin["via"]:
                needed_by.setdefault(canonicalize_name(reason), set()).add(name)
    reached = {canonicalize_name(Requirement(r).name) for r in _pyproject_requirements(False)}
    todo = list(reached)
    while todo:
        for name in needed_by.get(todo.pop(), ()):
            if name not in reached:
                reached.add(name)
                todo.append(name)
    lab = _lock(LAB_LOCK)
    assert set(lab) == reached, FIX
    assert _pins(lab) <= _pins(locked), FIX
    assert "playwright" not in lab and "pytest" not in lab


def test_the_lock_is_one_for_every_system():
    # A universal lock: the packages only Windows or only macOS need are in it, with markers.
    markers = " ".join(pin["marker"] or "" for pins in _lock().values() for pin in pins)
    assert "win32" in markers or "'nt'" in markers
    assert "darwin" in markers


def test_moto_is_pinned_to_exactly_the_version_labkit_patches():
    # labkit relies on moto internals (server app, backends): any other release may move them
    # (which ones: labkit/local/moto_patches.py, checked by test_moto_patches.py).
    in_pyproject = _moto_requirement(_pyproject_requirements())
    in_conda = _moto_requirement(_conda_pip_requirements())
    (pinned,) = [spec.version for spec in in_pyproject.specifier if spec.operator == "=="]
    assert len(in_pyproject.specifier) == 1, in_pyproject
    assert in_conda == in_pyproject
    assert [pin["version"] for pin in _lock()["moto"]] == [pinned]
    assert metadata.version("moto") == pinned
