"""cfn-lint's findings on a template, as plain data: notebook 09 lints before it deploys."""

from __future__ import annotations

from dataclasses import dataclass

from ..defaults import DEFAULT_REGION


@dataclass(frozen=True)
class Finding:
    """One thing cfn-lint says about a template."""

    rule: str      # E3012, W2001, ...
    level: str     # error, warning or informational
    message: str
    path: str      # Resources/Function/Properties/Timeout ('' for the whole template)
    line: int

    @property
    def is_error(self) -> bool:
        return self.level == "error"


def lint_template(text: str, region: str = DEFAULT_REGION) -> list[Finding]:
    """cfn-lint's findings on the YAML template *text* for *region* (``[]``: nothing to say)."""
    # Loaded here, not with labkit: cfn-lint takes a second or two to import.
    from cfnlint.api import ManualArgs, lint

    findings = []
    for match in lint(text, config=ManualArgs(regions=[region])):
        path = "/".join(str(part) for part in getattr(match, "path", None) or ())
        findings.append(Finding(rule=match.rule.id, level=str(match.rule.severity).lower(),
                                message=match.message, path=path, line=match.linenumber))
    return findings
