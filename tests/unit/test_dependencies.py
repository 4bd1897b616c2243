"""pyproject.toml is where dependencies are listed; environment.yml must say the same."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return {r.replace(" ", "") for r in project["dependencies"] + extras}


def _conda_pip_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return {r.replace(" ", "") for r in pip_section if not r.startswith("-e")}


def test_environment_yml_lists_exactly_the_pyproject_dependencies():
    assert _conda_pip_requirements() == _pyproject_requirements()


def test_environment_yml_installs_the_project_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section


def test_moto_is_pinned_to_one_minor_version():
    # labkit relies on moto internals (server app, backends): a new minor may move them.
    moto = next(r for r in _pyproject_requirements() if r.startswith("moto"))
    assert ">=5.2." in moto and "<5.3" in moto


def test_moto_internals_labkit_uses_are_where_it_expects_them():
    from moto.backends import get_backend
    from moto.moto_server.werkzeug_app import (  # noqa: F401
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    assert hasattr(get_backend("sns")["123456789012"]["us-east-1"], "topics")
    assert hasattr(get_backend("lambda")["123456789012"]["us-east-1"], "_lambdas")
