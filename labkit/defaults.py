"""The lab's default values that several parts of labkit share, each written once.

The notebook parameters take their defaults from here (:mod:`labkit.parameters`), and so do the
commands and messages that mention them. This module imports nothing, so that every other
module, however low, can use it.
"""

#: Where the lab runs unless told otherwise: this machine, no AWS account needed.
DEFAULT_TARGET = "local"

#: The AWS region of the source lab (Seoul).
DEFAULT_REGION = "ap-northeast-2"

#: The Slack channel the alarms go to.
DEFAULT_SLACK_CHANNEL = "project"

#: The NAME of the environment variable that holds a real Slack webhook URL (target aws).
DEFAULT_WEBHOOK_ENV = "SLACK_WEBHOOK_URL"

#: The language of learner-facing messages, and the one a missing translation falls back to.
DEFAULT_LANG = "en"
