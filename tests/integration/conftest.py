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


@pytest.fixture(scope="module")
def module_home(tmp_path_factory):
    """A state folder shared by one test module's tests (LABKIT_HOME while they run): a local
    cloud started in it is stopped after the module."""
    path = tmp_path_factory.mktemp("module-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LABKIT_HOME", str(path))
        yield path
        cloud.down(path)
        labkit.lab._point_kernel_at(None, "")


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """The AWS endpoint of a local cloud shared by one test module's tests."""
    home = tmp_path_factory.mktemp("module-home")
    state, _, _ = cloud.up(home)
    yield state.endpoint_url
    cloud.down(home)
