"""Is it still there? The probes the checks of self-contained notebooks (08, 09) use to say
what of their own resources is left on the target."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..i18n import t

if TYPE_CHECKING:
    from ..lab import Lab


def still_there(probes: Mapping[str, Callable[[], Any]], gone: Iterable[str]) -> list[str]:
    """The labels of *probes* whose call succeeds: what exists. A call failing with an error
    code in *gone* means "no such resource"; any other error is raised."""
    gone = set(gone)
    left = []
    for what, probe in probes.items():
        try:
            probe()
            left.append(what)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in gone:
                raise
    return left


def log_group_left(lab: Lab, name: str) -> list[str]:
    """``["Log group <name>"]`` (in the lab's language) while that log group exists, else []."""
    groups = lab.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return [f"{t('inventory.kind.log_group')} {g['logGroupName']}" for g in groups
            if g["logGroupName"] == name]
