"""``lab.export_template()``: the learner's pipeline, read from the target, as a template."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .snapshot import read_pipeline
from .template import template_text

if TYPE_CHECKING:
    from ..lab import Lab


def export_template(lab: Lab) -> str:
    """The CloudFormation template (YAML) of the pipeline notebooks 02-06 made for *lab*'s
    learner, read from the live resources; a LabError names the notebook of a missing piece.

    It holds no secret and nothing of the learner's own (account, instance, ARNs): names carry
    ``${NamePrefix}``, and the webhook comes in as the ``EncryptedWebhook`` parameter.
    """
    return template_text(read_pipeline(lab))
