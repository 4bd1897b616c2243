"""The Lambda function the lab deploys, kept as one self-contained file.

``slack_notifier.py`` imports only the standard library and boto3, so the file alone is the
deployment package: zip it, and set the handler to :data:`HANDLER`.
"""

from pathlib import Path

SOURCE = Path(__file__).with_name("slack_notifier.py")
HANDLER = "slack_notifier.lambda_handler"
