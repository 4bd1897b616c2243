#!/usr/bin/env python3
"""Set up and run the workbook with nothing but Python 3.11+.

    python3 tasks.py lab        set up, then run the whole lab on the local cloud (a summary at the end)
    python3 tasks.py test       set up, then run the test suite
    python3 tasks.py jupyter    set up, then open JupyterLab with the workbook's environment
    python3 tasks.py setup      set up only, for the lab and the tests
                                (--lab: for the lab only; --pip: with pip, without uv)
    python3 tasks.py translate  write the Korean notebooks (notebooks/ko/) from the English ones
                                and their translations (notebooks/translations/ko/); --check:
                                report what is missing or out of date; --todo: print the cells
                                to translate
    python3 tasks.py package-solutions
                                copy notebooks/ into labkit/solutions/ (what catch-up replays),
                                after editing a notebook
    python3 tasks.py lock       update the locks after a change of pyproject.toml's dependencies
                                (e.g. `python3 tasks.py lock --upgrade-package boto3`)

Set-up makes a virtual environment in .venv/ and installs into it every package of a lock, at
the exact version it names, then the project itself: requirements.lock (the lab and the test
tools) for `test` and `setup`, requirements-lab.lock (the same pins, without the test tools) for
`lab` and `jupyter`. It is repeated only when a lock or pyproject.toml's [project] table changes,
or when the tests need what a lab set-up left out. It installs with uv (itself installed into
.venv/ with pip first), in well under a minute; when uv cannot be installed or fails, with pip,
which takes several times longer. LABKIT_INSTALLER=pip makes every set-up use pip.

Extra arguments go to the command underneath (`labkit run`, `pytest`, `jupyter lab`,
`uv pip compile`), e.g. `python3 tasks.py lab --only 00 01`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
UV = BIN / ("uv.exe" if os.name == "nt" else "uv")
STAMP = VENV / ".labkit-installed"
LOG = VENV / "install.log"
# What each set-up level installs; "all" is a superset of "lab", at the same versions.
LOCKS = {"lab": "requirements-lab.lock", "all": "requirements.lock"}
# Any uv since universal locks (0.3) reads and writes the lock alike; the floor keeps out ones
# too old for the options `lock` passes.
UV_REQUIREMENT = "uv>=0.5"


def is_root() -> bool:
    """Whether this runs as root (containers and CI machines often do)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def say(text: str) -> None:
    """Print one progress line, at once (the install's own output goes to the log)."""
    print(f"» {text}", flush=True)


def wanted_stamp() -> str:
    """A digest of what the environment is built from: the locks and the project's metadata.

    Only the tables that change what gets installed count, so that editing, say, the pytest
    options does not set everything up again.
    """
    import tomllib  # here, not at the top: Python < 3.11 must reach the version message first

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    recipe = {
        "build-system": pyproject.get("build-system"),
        "project": pyproject.get("project"),
        "setuptools": pyproject.get("tool", {}).get("setuptools"),
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
    for lock_file in LOCKS.values():
        digest.update((ROOT / lock_file).read_bytes())
    return digest.hexdigest()


def is_set_up(level: str, wanted: str) -> bool:
    """Whether .venv/ holds what *level* needs, from the current locks and pyproject.toml."""
    if not (STAMP.exists() and PYTHON.exists()):
        return False
    digest, _, installed = STAMP.read_text().partition(" ")
    return digest == wanted and installed in (level, "all")


def make_venv() -> None:
    """Create .venv/ with pip in it, unless it is there."""
    if PYTHON.exists():
        return
    say(f"Creating a virtual environment in {VENV.name}/")
    try:
        venv.EnvBuilder(with_pip=True).create(VENV)
    except Exception as exc:  # noqa: BLE001 - the one known cause gets a clear message
        sys.exit(f"Could not create {VENV.name}/ ({exc}). On Debian or Ubuntu install the "
                 "venv module first: sudo apt install python3-venv")


def logged(command: list[str], log) -> bool:  # noqa: ANN001 - an open text file
    """Run *command* in the project folder with its output appended to *log*; True if it worked."""
    log.write(f"\n$ {' '.join(command)}\n")
    log.flush()
    return subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT).returncode == 0


def ensure_uv(log) -> Path | None:  # noqa: ANN001 - an open text file
    """uv in .venv/ (installed with pip when missing), or None when it cannot be had."""
    if UV.exists():
        return UV
    if logged([str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check",
               UV_REQUIREMENT], log) and UV.exists():
        return UV
    return None


def install_with_uv(uv: Path, lock_file: str, log) -> bool:  # noqa: ANN001 - an open text file
    """Install the packages of *lock_file* and the project with uv; True if it worked."""
    # --compile-bytecode: pip's default, not uv's (see compile_project).
    return logged([str(uv), "pip", "install", "--python", str(PYTHON), "--compile-bytecode",
                   "-r", lock_file, "-e", "."], log)


def install_with_pip(lock_file: str, log) -> bool:  # noqa: ANN001 - an open text file
    """Install the packages of *lock_file*, then the project alone, with pip; True if it worked."""
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check"]
    # A current pip installs the lock in half the time the one bundled with Python takes; if it
    # cannot be had, the bundled one still does the job.
    logged([*pip, "--upgrade", "pip"], log)
    # The project on its own, without its dependencies: they are the lock's, already there,
    # and pip would otherwise be free to pick other versions for any the lock lacks.
    return logged([*pip, "-r", lock_file], log) and logged([*pip, "--no-deps", "-e", "."], log)


def compile_project(log) -> bool:  # noqa: ANN001 - an open text file
    """Compile labkit's modules to bytecode once, as the installers do for the packages.

    Every notebook's kernel, the local cloud and each function's worker import labkit (and
    boto3, moto, ...) in a process of its own. Python caches the compiled modules in
    __pycache__/ folders, unless PYTHONDONTWRITEBYTECODE is set, as it is on many CI machines
    and containers: then each of those processes compiles everything it imports again, which
    costs a third of the test suite's CPU time. Compiling at set-up makes that setting harmless.
    """
    return logged([str(PYTHON), "-m", "compileall", "-q", "labkit"], log)


def fail(text: str) -> None:
    """Stop with the end of the install log and *text*."""
    tail = "\n".join(LOG.read_text(errors="replace").splitlines()[-15:])
    sys.exit(f"{tail}\n\n{text} The whole log is in {LOG}.")


def setup(level: str = "all", use_pip: bool = False) -> None:
    """Create .venv and install the locked environment *level* needs ("lab" or "all"), unless
    it is already there.

    With *use_pip* (or LABKIT_INSTALLER=pip) pip installs; otherwise uv does, falling back to
    pip when uv cannot be installed or its install fails.
    """
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    wanted = wanted_stamp()
    if is_set_up(level, wanted):
        return
    lock_file = LOCKS[level]
    began = time.monotonic()
    make_venv()
    use_pip = use_pip or os.environ.get("LABKIT_INSTALLER", "").lower() == "pip"
    with open(LOG, "w", encoding="utf-8") as log:
        installer = "pip"
        if not use_pip:
            uv = ensure_uv(log)
            if uv is None:
                say("uv could not be installed (see .venv/install.log); installing with pip "
                    "instead, which takes longer")
            else:
                say(f"Installing the workbook and its tools from {lock_file} with uv")
                if install_with_uv(uv, lock_file, log):
                    installer = "uv"
                else:
                    say("uv could not install them (see .venv/install.log); trying pip "
                        "instead, which takes longer")
        else:
            say(f"Installing the workbook and its tools from {lock_file} with pip")
        if installer == "pip" and not install_with_pip(lock_file, log):
            fail("Installing failed.")
        compile_project(log)
    STAMP.write_text(f"{wanted} {level}")
    say(f"Set up with {installer} in {time.monotonic() - began:.0f} s")


def lowest_python() -> str | None:
    """The lowest Python version pyproject.toml allows ("3.11" for ">=3.11"), if it says."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found = re.search(r">=\s*(\d+\.\d+)", pyproject["project"].get("requires-python", ""))
    return found.group(1) if found else None


def lock(args: list[str]) -> int:
    """Resolve pyproject.toml's dependencies anew into requirements.lock (with every extra) and
    requirements-lab.lock (without them, at the same versions).

    Each is one lock for Linux, macOS and Windows and every Python the project allows (uv's
    universal resolution writes markers where they differ); *args* go to `uv pip compile` for
    requirements.lock.
    """
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    make_venv()
    with open(LOG, "a", encoding="utf-8") as log:
        uv = ensure_uv(log)
    if uv is None:
        fail("Updating the lock needs uv, and it could not be installed.")
    python = lowest_python()
    compile_ = [str(uv), "pip", "compile", "pyproject.toml", "--universal", "--quiet",
                *(["--python-version", python] if python else []),
                # The header names the command to run again, not uv's own long form.
                "--custom-compile-command", "python3 tasks.py lock"]
    everything, lab = LOCKS["all"], LOCKS["lab"]
    code = subprocess.run([*compile_, "--all-extras", "-o", everything, *args],
                          cwd=ROOT).returncode
    if code == 0:
        # Constrained by the whole lock, so the lab's packages are at exactly its versions;
        # without annotations, which would only repeat "-c requirements.lock" for each.
        code = subprocess.run([*compile_, "--no-annotate", "-c", everything, "-o", lab],
                              cwd=ROOT).returncode
    if code == 0:
        say(f"{everything} and {lab} updated; the next command installs them. Commit them "
            "with pyproject.toml.")
    return code


def run(args: list[str]) -> int:
    """Run *args* in the project folder with .venv/ first on PATH; its exit code."""
    env = dict(os.environ)
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    # Jupyter looks for kernels in the user's folders first; a "python3" kernel there could be
    # another Python without labkit. Prefer this environment's own.
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    env.pop("PYTHONHOME", None)
    return subprocess.run(args, cwd=ROOT, env=env).returncode


SETUP_HELP = """usage: python3 tasks.py setup [--lab] [--pip]

Create .venv/ and install requirements.lock and the project, unless already done.
  --lab   install requirements-lab.lock instead: the lab without the test tools
  --pip   install with pip only, without uv (as LABKIT_INSTALLER=pip does)"""

# The set-up level each command needs: running the lab needs none of the test tools.
LEVELS = {"lab": "lab", "jupyter": "lab", "refresh-outputs": "lab", "translate": "lab",
          "package-solutions": "lab", "test": "all"}


def main(argv: list[str]) -> int:
    """Run the command *argv* names; its exit code."""
    commands = {
        "lab": lambda rest: [str(PYTHON), "-m", "labkit", "run", *rest],
        "test": lambda rest: [str(PYTHON), "-m", "pytest", *rest],
        # Served from the project root, so that the notebooks' links to docs/ (troubleshooting,
        # README) open; it starts in notebooks/.
        "jupyter": lambda rest: [str(PYTHON), "-m", "jupyter", "lab",
                                 "--ServerApp.root_dir", str(ROOT),
                                 "--LabApp.default_url", "/lab/tree/notebooks",
                                 # containers and CI machines often run as root, which
                                 # JupyterLab refuses unless told
                                 *(["--allow-root"] if is_root() else []), *rest],
        "setup": None,
        "lock": None,
        # For maintainers: after editing a notebook, store the outputs nbval compares.
        "refresh-outputs": lambda rest: [str(PYTHON), "-m", "tools.refresh_outputs", *rest],
        # For maintainers: after editing a notebook or a translation, write notebooks/ko/.
        "translate": lambda rest: [str(PYTHON), "-m", "tools.translate_notebooks", *rest],
        # For maintainers: after editing a notebook, copy the solutions catch-up replays.
        "package-solutions": lambda rest: [str(PYTHON), "-m", "tools.package_solutions", *rest],
    }
    if not argv or argv[0] not in commands or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    name, rest = argv[0], argv[1:]
    if name == "lock":
        return lock(rest)
    if name == "setup":
        if set(rest) - {"--pip", "--lab"}:
            print(SETUP_HELP)
            return 0 if set(rest) & {"-h", "--help"} else 2
        setup("lab" if "--lab" in rest else "all", use_pip="--pip" in rest)
        return 0
    setup(LEVELS[name])
    code = run(commands[name](rest))
    if name == "lab":
        print("\nStep through the notebooks yourself: python3 tasks.py jupyter\n"
              "The local cloud keeps running for them; stop it with: "
              f"{BIN.relative_to(ROOT) / 'labkit'} local down")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
