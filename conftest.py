"""Test-session set-up shared by the unit, integration and notebook (nbval) tests.

Every test process gets its own state folder (``LABKIT_HOME``) and so its own local cloud, on
free ports, which it stops at the end: tests never touch a learner's running cloud, and two test
sessions - or the workers of one parallel session - run side by side. The notebooks under nbval
start in this environment, so they find this cloud.

Parallel runs (pytest-xdist, ``-n``): the tests of one module stay on one worker (their module
fixtures are made once), and the notebooks 00 → 08 run in order on one worker, because each
starts from what the one before it made. Tests marked ``cpu_exclusive`` (and notebook 06, whose
bastion really burns two cores) measure real CPU load: each runs while no other test runs, as a
writer among readers, so that the other workers' load never decides their result.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_home: Path | None = None
_NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
# More workers than this only add local clouds and kernels competing for memory: the suite's
# longest chain (the notebooks in order) bounds the wall time anyway.
MAX_WORKERS = 4


def pytest_configure(config) -> None:  # noqa: ANN001
    global _home
    config.addinivalue_line("markers", "cpu_exclusive: measures real CPU load; runs while no "
                                       "other test of the session runs")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        # Made before the workers start, so that they all inherit the same folder.
        os.environ["LABKIT_TEST_SHARED"] = tempfile.mkdtemp(prefix="labkit-test-shared-")
    _home = Path(tempfile.mkdtemp(prefix="labkit-test-home-"))
    os.environ["LABKIT_HOME"] = str(_home)
    # The notebooks under nbval run without a front end: labkit prints instead of widgets.
    os.environ["LABKIT_BATCH"] = "1"
    # Tests are about what happens, not how long the lesson's waits last: the local clouds and
    # notebooks of the session wait less (each setting: labkit/local/waits.py; the tests of
    # the waits themselves set the lesson's values). LABKIT_WAIT_SCALE=1 keeps them whole.
    os.environ.setdefault("LABKIT_WAIT_SCALE", "0.1")
    os.environ.setdefault("LABKIT_ALARM_TICK_SECONDS", "0.25")
    _share_botocore_models()
    # The learner's real AWS settings must not leak into tests of the local target.
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)


class _OncePaths(list):
    """A loader's search paths, to which boto3 adds its own folder once, not per session."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


def _share_botocore_models() -> None:
    """One botocore data loader for every session this test process makes.

    botocore reads each service's model (EC2's is 3 MB of JSON) once per session; the tests make
    a session per lab, per moto mock and per helper, so that reading took about a second of many
    tests. The models are read-only data, so sharing them changes nothing the tests look at. In
    a notebook kernel labkit makes one session, so labkit itself has no need of this.
    """
    import functools

    import botocore.loaders
    import botocore.session

    @functools.lru_cache(maxsize=None)
    def create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        loader = botocore.loaders.create_loader(search_path_string)
        loader._search_paths = _OncePaths(loader.search_paths)
        return loader

    botocore.session.create_loader = create_loader


def pytest_unconfigure(config) -> None:  # noqa: ANN001
    if _home is None:
        return
    from labkit.local import cloud

    cloud.down(_home)
    shutil.rmtree(_home, ignore_errors=True)
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(os.environ.get("LABKIT_TEST_SHARED", ""), ignore_errors=True)


def pytest_xdist_auto_num_workers(config) -> int:  # noqa: ANN001
    """``-n auto``: one worker more than the cores, at most :data:`MAX_WORKERS`.

    The integration tests spend about half their time waiting (an alarm's period, Lambda's
    retry delays, a kernel starting), so one worker per core leaves the cores idle that long;
    the tests that measure CPU run alone anyway (``cpu_exclusive``).
    """
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 1) + 1))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups on each worker
def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001
    """Group the tests for ``--dist loadgroup``: by module, and every notebook in one group."""
    for item in items:
        path = Path(str(item.fspath))
        group = "notebooks" if path.parent == _NOTEBOOKS else str(path)
        item.add_marker(pytest.mark.xdist_group(group))
        if group == "notebooks" and path.name.startswith("06_"):
            item.add_marker(pytest.mark.cpu_exclusive)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # noqa: ANN001
    """Hold the session's CPU lock around each test: shared, or alone for ``cpu_exclusive``."""
    shared = os.environ.get("LABKIT_TEST_SHARED")
    if not shared or os.environ.get("PYTEST_XDIST_WORKER") is None:
        yield  # one process runs one test at a time anyway
        return
    from filelock import ReadWriteLock

    lock = ReadWriteLock(Path(shared) / "cpu.db", is_singleton=False)
    alone = item.get_closest_marker("cpu_exclusive") is not None
    with lock.write_lock() if alone else lock.read_lock():
        yield
    lock.close()
