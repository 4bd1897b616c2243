"""How the local Slack's code is laid out: its API paths written once, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import labkit
from labkit.local.slack import api as slack_api

LABKIT = Path(labkit.__file__).parent
SLACK = LABKIT / "local" / "slack"
API_PATHS = (slack_api.MESSAGES_PATH, slack_api.WEBHOOKS_PATH, slack_api.SETTINGS_PATH,
             slack_api.FAULTS_PATH)


def string_constants(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a Python file (docstrings and f-string parts included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_the_api_paths_are_the_ones_the_local_slack_serves():
    from labkit.local.slack.app import make_slack_app
    from labkit.local.slack.store import SlackStore

    served = {rule.rule for rule in make_slack_app(SlackStore()).url_map.iter_rules()}
    assert set(API_PATHS) <= served
    assert all(path.startswith(("/api/", "/labkit/slack/")) for path in API_PATHS)


def test_labkit_spells_the_local_slack_s_api_paths_only_in_api_py():
    found = [f"{path.relative_to(LABKIT)}:{line}: {text!r}"
             for path in sorted(LABKIT.rglob("*.py")) if path != SLACK / "api.py"
             for line, text in string_constants(path)
             if "/api/" in text or "/labkit/slack" in text]
    assert found == [], "use the constants of labkit/local/slack/api.py instead"


def imported_modules(path: Path) -> set[str]:
    """The local Slack modules *path* imports, anywhere in the file (functions and
    ``TYPE_CHECKING`` blocks included), by file stem."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "labkit.local.slack."):
            names.add(node.module.split(".")[3])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[3] for alias in node.names
                         if alias.name.startswith("labkit.local.slack."))
    return names


def test_the_local_slack_s_modules_import_each_other_one_way_only():
    graph = {path.stem: imported_modules(path) - {path.stem} for path in SLACK.glob("*.py")}
    assert "app" not in graph["channel_page"]  # the app serves the pages, not the reverse

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for name in graph.get(start, ()):
            if name == goal or (name not in seen and reaches(name, goal, seen | {name})):
                return True
        return False

    cycles = sorted(name for name in graph if reaches(name, name, {name}))
    assert cycles == []


def test_the_cycle_check_sees_a_type_checking_import(tmp_path):
    module = tmp_path / "page.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from .app import Store\n\ndef f():\n    from . import store\n")
    assert imported_modules(module) == {"app", "store"}
