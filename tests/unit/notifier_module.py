"""Fresh copies of the notifier function for tests, loaded from its file as Lambda loads it."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

SOURCE = Path(__file__).resolve().parents[2] / "labkit" / "functions" / "slack_notifier.py"

# Every variable the function reads: tests clear them so the learner's shell cannot leak in.
FUNCTION_VARIABLES = ("kmsEncryptedHookUrl", "slackHookUrlParameter", "slackHookUrlSecret",
                      "slackHookUrl", "slackChannel", "slackMention")

_counter = itertools.count()


def load_notifier(label: str = "test") -> ModuleType:
    """A new module object: module-level caches start empty, like a new execution environment."""
    name = f"slack_notifier_{label}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, SOURCE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module
