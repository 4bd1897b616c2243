"""labkit: the helper package of the CloudWatch -> SNS -> Lambda -> Slack lab workbook.

A notebook needs little of it::

    import labkit
    lab = labkit.start(target="local")      # or "aws"; starts the local cloud when needed
    sns = lab.client("sns")                  # boto3 client for the target
    sns.create_topic(Name=lab.names.topic, Tags=lab.tag_list)
    lab.check("02", ...)                     # ✅/❌ per expectation; raises when wrong
"""

from .show.pipeline import show_pipeline
from .errors import LabError
from .lab import Lab, start
from .masking import mask_secrets
from .webhook import SecretUrl

__version__ = "0.1.0"
__all__ = ["Lab", "LabError", "SecretUrl", "mask_secrets", "show_pipeline", "start",
           "preview"]


def preview(payload: dict):  # noqa: ANN201 (a display object)
    """A Slack-like rendering of a webhook *payload*, shown inline in a notebook."""
    from .show.slack_preview import SlackPreview

    return SlackPreview(payload)
