"""Sample events, in the shapes AWS documents, for testing the function by hand.

``mission_slack_test()`` is the source lab's Lambda test event ``MissionSlackTest``: an SNS
notification (as Lambda receives it) wrapping a CloudWatch alarm that went from OK to ALARM.
"""

from __future__ import annotations

import copy
import json
from typing import Any

# The alarm inside the source lab's test event (CloudWatch's documented alarm notification).
SAMPLE_ALARM: dict[str, Any] = {
    "AlarmName": "Example alarm name",
    "AlarmDescription": "Example alarm description.",
    "AWSAccountId": "000000000000",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 datapoint (10.0) was greater than or equal to the "
                      "threshold (1.0).",
    "StateChangeTime": "2017-01-12T16:30:42.236+0000",
    "Region": "EU - Ireland",
    "OldStateValue": "OK",
    "Trigger": {
        "MetricName": "DeliveryErrors",
        "Namespace": "ExampleNamespace",
        "Statistic": "SUM",
        "Unit": None,
        "Dimensions": [],
        "Period": 300,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1.0,
    },
}

_TOPIC = "arn:aws:sns:eu-west-1:000000000000:cloudwatch-alarms"
_ID = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"


def mission_slack_test() -> dict[str, Any]:
    """The source lab's ``MissionSlackTest`` event: one SNS record holding :data:`SAMPLE_ALARM`."""
    return {
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": f"{_TOPIC}:{_ID}",
            "Sns": {
                "Type": "Notification",
                "MessageId": _ID,
                "TopicArn": _TOPIC,
                "Subject": 'ALARM: "Example alarm name" in EU - Ireland',
                "Message": json.dumps(SAMPLE_ALARM, separators=(",", ":")),
                "Timestamp": "2017-01-12T16:30:42.318Z",
                "SignatureVersion": "1",
                "Signature": "Cg==",
                "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-"
                                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.pem",
                "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&"
                                  f"SubscriptionArn={_TOPIC}:{_ID}",
                "MessageAttributes": {},
            },
        }]
    }


def sample_alarm() -> dict[str, Any]:
    """A fresh copy of the test event's alarm, e.g. to publish it to the SNS topic."""
    return copy.deepcopy(SAMPLE_ALARM)


def first_message(student: str = "") -> str:
    """The text notebook 01 posts to the channel: it names the learner in a shared channel."""
    who = f"{student}'s" if student else "the lab's"
    return f"Hello, World! This is {who} first message."
