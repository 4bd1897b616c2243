import pytest

import labkit.lab
from labkit.local import cloud


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A state folder of its own: a local cloud started in it is stopped after the test."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("LABKIT_HOME", str(path))
    yield path
    cloud.down(path)
    labkit.lab._point_kernel_at(None, "")  # undo what labkit.start() set in this process
