"""Test-session set-up shared by the unit, integration and notebook (nbval) tests.

Every test session gets its own state folder (``LABKIT_HOME``) and so its own local cloud, on
free ports, which it stops at the end: tests never touch a learner's running cloud, and two test
sessions can run side by side. The notebooks under nbval start in this environment, so they
find this cloud.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_home: Path | None = None


def pytest_configure(config) -> None:  # noqa: ANN001
    global _home
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    _home = Path(tempfile.mkdtemp(prefix="labkit-test-home-"))
    os.environ["LABKIT_HOME"] = str(_home)
    # The notebooks under nbval run without a front end: labkit prints instead of widgets.
    os.environ["LABKIT_BATCH"] = "1"
    # The learner's real AWS settings must not leak into tests of the local target.
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)


def pytest_unconfigure(config) -> None:  # noqa: ANN001
    if _home is None:
        return
    from labkit.local import cloud

    cloud.down(_home)
    shutil.rmtree(_home, ignore_errors=True)
