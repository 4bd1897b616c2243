#!/usr/bin/env python3
"""Set up and run the workbook with nothing but Python 3.11+.

    python3 tasks.py lab        set up, then run the whole lab on the local cloud (a summary at the end)
    python3 tasks.py test       set up, then run the test suite
    python3 tasks.py jupyter    set up, then open JupyterLab with the workbook's environment

Set-up makes a virtual environment in .venv/ and installs the project into it; it is repeated
only when pyproject.toml changes. Extra arguments go to the command underneath
(`labkit run`, `pytest`, `jupyter lab`), e.g. `python3 tasks.py lab --only 00 01`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".labkit-installed"


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def say(text: str) -> None:
    print(f"» {text}", flush=True)


def setup() -> None:
    """Create .venv and install the project (with test tools) when pyproject.toml changed."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        say(f"Creating a virtual environment in {VENV.name}/")
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except Exception as exc:  # noqa: BLE001 - the one known cause gets a clear message
            sys.exit(f"Could not create {VENV.name}/ ({exc}). On Debian or Ubuntu install the "
                     "venv module first: sudo apt install python3-venv")
    say("Installing the workbook and its tools (first time: a few minutes)")
    log = VENV / "install.log"
    with open(log, "w") as out:
        for step in (["--upgrade", "pip"], ["-e", f"{ROOT}[test]"]):
            done = subprocess.run([str(PYTHON), "-m", "pip", "install", *step],
                                  stdout=out, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                tail = "\n".join(log.read_text().splitlines()[-15:])
                sys.exit(f"{tail}\n\nInstalling failed; the whole log is in {log}.")
    STAMP.write_text(wanted)


def run(args: list[str]) -> int:
    env = dict(os.environ)
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    # Jupyter looks for kernels in the user's folders first; a "python3" kernel there could be
    # another Python without labkit. Prefer this environment's own.
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    env.pop("PYTHONHOME", None)
    return subprocess.run(args, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    commands = {
        "lab": lambda rest: [str(PYTHON), "-m", "labkit", "run", *rest],
        "test": lambda rest: [str(PYTHON), "-m", "pytest", *rest],
        "jupyter": lambda rest: [str(PYTHON), "-m", "jupyter", "lab",
                                 "--notebook-dir", str(ROOT / "notebooks"),
                                 # containers and CI machines often run as root, which
                                 # JupyterLab refuses unless told
                                 *(["--allow-root"] if is_root() else []), *rest],
        "setup": None,
        # For maintainers: after editing a notebook, store the outputs nbval compares.
        "refresh-outputs": lambda rest: [str(PYTHON), "-m", "labkit.nbtools", *rest],
    }
    if not argv or argv[0] not in commands or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    setup()
    build = commands[argv[0]]
    code = 0 if build is None else run(build(argv[1:]))
    if argv[0] == "lab":
        print("\nStep through the notebooks yourself: python3 tasks.py jupyter\n"
              "The local cloud keeps running for them; stop it with: "
              f"{BIN.relative_to(ROOT) / 'labkit'} local down")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
