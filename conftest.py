"""Test-session set-up shared by the unit, integration and notebook (nbval) tests.

Every test process gets its own state folder (``LABKIT_HOME``) and so its own local cloud, on
free ports, which it stops at the end: tests never touch a learner's running cloud, and two test
sessions - or the workers of one parallel session - run side by side. The notebooks under nbval
start in this environment, so they find this cloud.

Parallel runs (pytest-xdist, ``-n``): the tests of one module stay on one worker (their module
fixtures are made once), and the notebooks run in the lesson's order (00 → 09, the cleanup 07
last) on one worker, because each starts from what the one before it made. Tests marked
``cpu_exclusive`` (and notebook 06 up to the cell whose bastion really burns two cores) measure
real CPU load: they run while no other test runs, as a writer among readers, so that the other
workers' load never decides their result.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_home: Path | None = None
_NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
# The Korean notebooks are the English ones with the prose translated: nbval would run the same
# code a second time, minutes longer. tests/integration/test_korean_notebooks.py runs a few of
# them in batch instead, and tests/unit/test_translations.py holds them to the English ones.
collect_ignore = ["notebooks/ko"]
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
    # Each service model read once per test process (the tests make many sessions).
    from labkit.local import moto_patches

    moto_patches.install(only={"labkit.local.botocore_models"})
    # The learner's real AWS settings must not leak into tests of the local target.
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)


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


def _is_notebook(item) -> bool:  # noqa: ANN001
    return item.path.parent == _NOTEBOOKS


def _in_notebook_06(item) -> bool:  # noqa: ANN001
    return _is_notebook(item) and item.path.name.startswith("06_")


def _alone(item) -> bool:  # noqa: ANN001
    return item.get_closest_marker("cpu_exclusive") is not None


# The modules that take longest (whole labs, classes, alarms that must fire), longest first:
# they start as soon as the CPU tests' turn is over, so that none of them is left to run alone
# at the end. Measured with bench/bench_suite.py; a module missing here only costs time.
_LONGEST_FIRST = ("test_rerun_and_catch_up.py", "test_classroom.py", "test_nbgrader.py",
                  "test_cleanup.py", "test_reliability.py", "test_lambda_runtime.py",
                  "test_bastion_alarm.py", "test_function_kms_key.py", "test_batch_run.py",
                  "test_korean_notebooks.py", "test_handout.py", "test_alarms.py")


def _mark_the_load_of_notebook_06(items) -> None:  # noqa: ANN001
    """Notebook 06's cells up to the one that burns the bastion's CPU are ``cpu_exclusive``.

    The cells after it watch the idle bastion recover, which no other load can disturb (the
    figure is the bastion's own processes'), so other tests may run meanwhile. Should the
    load move to another cell, the whole notebook is exclusive until this is updated.
    """
    cells = [item for item in items if _in_notebook_06(item)]
    load = next((i for i, cell in enumerate(cells)
                 if "run_stress_over_ssm(" in getattr(getattr(cell, "cell", None), "source", "")),
                len(cells) - 1)
    for cell in cells[:load + 1]:
        cell.add_marker(pytest.mark.cpu_exclusive)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups on each worker
def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001
    """Group and order the tests for ``--dist loadgroup`` (which hands the groups out in
    this order, ``--no-loadscope-reorder``).

    Groups: each module, and every notebook in one group. The ``cpu_exclusive`` tests join
    the notebooks' group, just before notebook 06 (whose first cells are too), so
    that they take their turn alone once, back to back: a turn first waits for the test in
    progress on every other worker, while the workers that finish theirs sit idle.

    Order: the notebooks (the cleanup last, as ``labkit run`` runs them), then the unit tests
    (short, so that the CPU tests' turn, about ten seconds in, waits for a short test), then
    the longest modules, then the rest.
    """
    _mark_the_load_of_notebook_06(items)
    first_06 = next((i for i, item in enumerate(items) if _in_notebook_06(item)), None)
    moved = set()
    if first_06 is not None:
        moving = [item for item in items if _alone(item) and not _is_notebook(item)]
        moved = set(moving)
        items[:] = [item for item in items[:first_06] if item not in moved] + moving + [
            item for item in items[first_06:] if item not in moved]

    def rank(item) -> float:  # noqa: ANN001
        if _is_notebook(item) and "cleanup" in item.path.name:
            return 0.5  # the lesson's order: the cleanup after every other notebook
        if _is_notebook(item) or item in moved:
            return 0
        if item.path.parent.name == "unit":
            return 1
        if item.path.name in _LONGEST_FIRST:
            return 2 + _LONGEST_FIRST.index(item.path.name)
        return 2 + len(_LONGEST_FIRST)

    items.sort(key=rank)  # stable: a module's tests stay together and in order
    for item in items:
        group = "notebooks" if _is_notebook(item) or item in moved else str(item.path)
        item.add_marker(pytest.mark.xdist_group(group))


_in_turn = False  # whether this worker holds the session's CPU lock alone


@functools.cache
def _cpu_lock() -> "object | None":
    """The session's CPU lock (one per worker), or None where one process runs one test at a
    time anyway."""
    shared = os.environ.get("LABKIT_TEST_SHARED")
    if not shared or os.environ.get("PYTEST_XDIST_WORKER") is None:
        return None
    from filelock import ReadWriteLock

    return ReadWriteLock(Path(shared) / "cpu.db", is_singleton=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # noqa: ANN001
    """Hold the session's CPU lock around each test, shared; for ``cpu_exclusive`` tests see
    ``pytest_runtest_call``: their turn alone ends after the last of them in a row."""
    global _in_turn
    lock = _cpu_lock()
    if lock is None:
        yield
    elif _alone(item):
        yield
        if _in_turn and (nextitem is None or not _alone(nextitem)):
            lock.release()
            _in_turn = False
    else:
        with lock.read_lock():
            yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):  # noqa: ANN001
    """A ``cpu_exclusive`` test's turn alone starts with its body, not its set-up: what its
    fixtures prepare (a lab up to notebook 05, a kernel) shares the computer with the others."""
    global _in_turn
    lock = _cpu_lock()
    if lock is not None and _alone(item) and not _in_turn:
        lock.acquire_write()
        _in_turn = True
    yield
