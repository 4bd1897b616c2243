"""Learner-facing messages in English and Korean, chosen by the ``lang`` parameter.

Every message has a key (``check.02.topic_exists``); its wording lives in the catalogues
``labkit/locale/<lang>/*.json``, one file per area, flat ``{"key": "text with {fields}"}``.
English is the default and the fallback: a key missing from another language shows in English
rather than failing a learner's cell.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from .defaults import DEFAULT_LANG

LANGUAGES: dict[str, str] = {"en": "English", "ko": "한국어"}
DEFAULT = DEFAULT_LANG
_LOCALE = Path(__file__).resolve().parent / "locale"
_current = DEFAULT


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """All messages of *lang*: the union of ``locale/<lang>/*.json``."""
    messages: dict[str, str] = {}
    for path in sorted((_LOCALE / lang).glob("*.json")):
        messages.update(json.loads(path.read_text(encoding="utf-8")))
    return messages


def check_language(lang: str) -> str:
    """*lang* normalised ("KO" -> "ko"), or ValueError naming the languages there are."""
    code = (lang or DEFAULT).strip().lower()
    if code not in LANGUAGES:
        raise ValueError(f"lang {lang!r} is not one of the workbook's languages: "
                         + ", ".join(f"{k!r} ({v})" for k, v in LANGUAGES.items()) + ".")
    return code


def set_language(lang: str) -> str:
    """Make *lang* the language of every message from now on; returns the normalised code."""
    global _current
    _current = check_language(lang)
    return _current


def language() -> str:
    """The language messages are shown in now."""
    return _current


def t(key: str, lang: str | None = None, **fields: Any) -> str:
    """The message *key* in *lang* (default: the current language), with *fields* filled in."""
    text = catalogue(lang or _current).get(key)
    if text is None:
        text = catalogue(DEFAULT).get(key)
    if text is None:
        raise KeyError(f"no message {key!r} in labkit/locale/{DEFAULT}/")
    return text.format(**fields) if fields else text


def has(key: str) -> bool:
    """Whether the English catalogue has *key* (every key exists there first)."""
    return key in catalogue(DEFAULT)
