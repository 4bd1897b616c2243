"""The check at the end of every notebook: one ✅/❌ line per expectation, with a hint.

A report shows itself in three forms: plain text (what nbval compares), HTML (what a learner
sees) and ``application/vnd.labkit.checks+json`` (what ``labkit run`` counts). When anything
failed, :func:`show_and_raise` raises after showing it, so a batch run stops loudly.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from ..errors import LabError
from ..i18n import has, t

MIME = "application/vnd.labkit.checks+json"


@dataclass(frozen=True)
class Expectation:
    ok: bool
    text: str
    hint: str = ""
    #: Its name in the catalogues ("02.topic_exists"): what the autograder's tests pick by.
    key: str = ""


@dataclass
class CheckReport:
    step: str
    items: list[Expectation] = field(default_factory=list)

    def expect(self, ok: bool, text: str, hint: str = "", key: str = "") -> bool:
        """Record one expectation; returns *ok* so later ones can depend on it."""
        self.items.append(Expectation(bool(ok), text, hint, key))
        return bool(ok)

    @property
    def passed(self) -> int:
        return sum(item.ok for item in self.items)

    @property
    def failed(self) -> int:
        return len(self.items) - self.passed

    @property
    def ok(self) -> bool:
        return bool(self.items) and self.failed == 0

    def _header(self) -> str:
        """The report's first line ("Step 02: 5/6 checks passed"), in the current language."""
        return t("checks.header", step=self.step, passed=self.passed, total=len(self.items))

    def as_text(self) -> str:
        lines = [self._header()]
        for item in self.items:
            lines.append(f"{'✅' if item.ok else '❌'} {item.text}")
            if not item.ok and item.hint:
                lines.append(f"   → {item.hint}")
        return "\n".join(lines)

    def as_html(self) -> str:
        rows = []
        for item in self.items:
            hint = "" if item.ok or not item.hint else (
                f"<div style='color:#8a5300;margin-left:1.6em'>→ {html.escape(item.hint)}</div>")
            rows.append(f"<div>{'✅' if item.ok else '❌'} {html.escape(item.text)}{hint}</div>")
        colour = "#2eb67d" if self.ok else "#e01e5a"
        return (f"<div style='border-left:4px solid {colour};padding:4px 10px'>"
                f"<b>{html.escape(self._header())}</b>{''.join(rows)}</div>")

    def as_json(self) -> dict:
        return {"step": self.step, "passed": self.passed, "failed": self.failed,
                # What a learner reads; the key is for code that picks expectations by name.
                "items": [{"ok": i.ok, "text": i.text, "hint": i.hint} for i in self.items]}

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:  # noqa: ANN001
        return {"text/plain": self.as_text(), "text/html": self.as_html(), MIME: self.as_json()}

    def raise_if_failed(self) -> None:
        if not self.ok:
            first = next((i for i in self.items if not i.ok), None)
            counts = {"step": self.step, "failed": self.failed, "total": len(self.items)}
            what = (t("checks.failed_first", first=first.text, **counts) if first
                    else t("checks.failed", **counts))
            raise LabError(what, first.hint if first and first.hint else t("checks.fix_above"))


def expect(report: CheckReport, ok: Any, key: str, **fields: Any) -> bool:
    """Record expectation *key* (``"02.topic_exists"``) in the current language.

    Its text is the catalogue's ``check.<key>``, its hint ``check.<key>.hint`` when there is
    one; *fields* fill both in. When it fails, the hint ends with ``check.<key>.more`` if there
    is one: where the troubleshooting page tells more (only then, so that a passing report
    reads the same as before).
    """
    hint_key, more_key = f"check.{key}.hint", f"check.{key}.more"
    hint = t(hint_key, **fields) if has(hint_key) else ""
    if not ok and has(more_key):
        hint = f"{hint} {t(more_key)}".strip()
    return report.expect(bool(ok), t(f"check.{key}", **fields), hint, key)


def show_and_raise(report: CheckReport) -> CheckReport:
    """Display *report* in the notebook (if any), then raise when a check failed."""
    try:
        from IPython.display import display

        display(report)
    except ImportError:  # outside Jupyter: the CLI prints it itself
        pass
    report.raise_if_failed()
    return report
