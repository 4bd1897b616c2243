"""Alarms that evaluate and act, on a real local cloud (moto with labkit's alarm service).

One local cloud (its own LABKIT_HOME, a half-second evaluation tick) serves most tests; each
test makes its own alarm, topic and queue. The SQS queue subscribed to an alarm's topic shows
exactly what the alarm published. The last test goes all the way to the local Slack through the
lab's notifier function, on a cloud of its own.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from labkit.local.cloudwatch import alarms
from labkit.local import cloud

from .support import poll

pytestmark = pytest.mark.integration

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
INSTANCE = "i-0a1b2c3d4e5f67890"
DIMENSIONS = [{"Name": "InstanceId", "Value": INSTANCE}]
NOTIFIER = Path(__file__).resolve().parents[2] / "labkit" / "functions" / "slack_notifier.py"



class Cloud:
    """Clients for one local cloud, and the topic + queue pairs tests listen on."""

    def __init__(self, endpoint_url: str) -> None:
        session = boto3.session.Session(aws_access_key_id="testing",
                                        aws_secret_access_key="testing", region_name=REGION)
        self.client = lambda name: session.client(name, endpoint_url=endpoint_url)
        self.cw, self.sns, self.sqs = self.client("cloudwatch"), self.client("sns"), \
            self.client("sqs")

    def topic_with_queue(self, name: str) -> tuple[str, str]:
        """A topic, and the URL of an SQS queue subscribed to it."""
        topic = self.sns.create_topic(Name=name)["TopicArn"]
        queue_url = self.sqs.create_queue(QueueName=name + "-q")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        return topic, queue_url

    def notifications(self, queue_url: str, wait: int = 1) -> list[dict]:
        """The SNS envelopes that arrived in *queue_url* (each: Subject, Message, ...)."""
        answer = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                          WaitTimeSeconds=wait)
        found = []
        for message in answer.get("Messages", []):
            found.append(json.loads(message["Body"]))
            self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def alarm(self, name: str) -> dict:
        return self.cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]

    def put_alarm(self, name: str, topic: str | None, **changes: Any) -> None:
        settings = dict(AlarmName=name, Namespace="AWS/EC2", MetricName="CPUUtilization",
                        Dimensions=DIMENSIONS, Statistic="Average", Period=10,
                        EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=50.0,
                        ComparisonOperator="GreaterThanOrEqualToThreshold",
                        AlarmDescription="CPU at or above 50 %")
        if topic:
            settings.update(AlarmActions=[topic], OKActions=[topic])
        settings.update(changes)
        self.cw.put_metric_alarm(**settings)

    def put_cpu(self, value: float, when: datetime, instance: str = INSTANCE) -> None:
        self.cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{
            "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "InstanceId", "Value": instance}],
            "Timestamp": when, "Value": value, "Unit": "Percent", "StorageResolution": 1}])

    def history(self, name: str, **filters: Any) -> list[dict]:
        return self.cw.describe_alarm_history(AlarmName=name, **filters)["AlarmHistoryItems"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("alarms-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(alarms.TICK_VARIABLE, "0.5")
        state, _, _ = cloud.up(home)
    yield Cloud(state.endpoint_url)
    cloud.down(home)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_history_selection_pages_and_filters():
    base = datetime(2024, 5, 14, 6, 0)
    items = [{"AlarmName": "a" if i % 2 else "b", "AlarmType": "MetricAlarm",
              "Timestamp": base + timedelta(minutes=i), "HistoryItemType":
              ("StateUpdate", "Action", "ConfigurationUpdate")[i % 3],
              "HistorySummary": str(i), "HistoryData": "{}"} for i in range(7)]
    page, token = alarms.select_history(items, max_records=3)
    assert [p["HistorySummary"] for p in page] == ["6", "5", "4"] and token
    page, token = alarms.select_history(items, max_records=3, next_token=token)
    assert [p["HistorySummary"] for p in page] == ["3", "2", "1"]
    page, token = alarms.select_history(items, max_records=3, next_token=token)
    assert [p["HistorySummary"] for p in page] == ["0"] and token is None
    page, _ = alarms.select_history(items, alarm_name="a", scan_by="TimestampAscending")
    assert [p["HistorySummary"] for p in page] == ["1", "3", "5"]
    page, _ = alarms.select_history(items, item_type="Action")
    assert [p["HistorySummary"] for p in page] == ["4", "1"]
    page, _ = alarms.select_history(items, start=base + timedelta(minutes=2),
                                    end=base + timedelta(minutes=3))
    assert [p["HistorySummary"] for p in page] == ["3", "2"]
    assert alarms.select_history(items, alarm_types=["CompositeAlarm"])[0] == []
    with pytest.raises(alarms.InvalidNextToken):
        alarms.select_history(items, next_token="bogus")


# -- the alarm service in the local cloud --------------------------------------------------------

def test_a_new_alarm_starts_in_insufficient_data(lab):
    name = unique("new")
    lab.put_alarm(name, None)
    alarm = lab.alarm(name)
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    created = lab.history(name, HistoryItemType="ConfigurationUpdate")
    assert [item["HistorySummary"] for item in created] == [f'Alarm "{name}" created']
    data = json.loads(created[0]["HistoryData"])
    assert data["type"] == "Create" and data["createdAlarm"]["stateValue"] == "INSUFFICIENT_DATA"
    # Without data it stays there (TreatMissingData missing), evaluation after evaluation.
    time.sleep(1.5)
    assert lab.alarm(name)["StateValue"] == "INSUFFICIENT_DATA"


def test_breach_goes_to_alarm_and_recovery_to_ok_with_notifications(lab):
    name, instance = unique("cpu"), unique("i")
    topic, queue = lab.topic_with_queue(unique("mission-sns"))
    lab.put_alarm(name, topic, Dimensions=[{"Name": "InstanceId", "Value": instance}])

    # A high-resolution datapoint in the period before the current one: complete, so the very
    # next evaluation sees it.
    lab.put_cpu(92.5, now() - timedelta(seconds=10), instance)
    poll(lambda: lab.alarm(name)["StateValue"] == "ALARM")
    alarm = lab.alarm(name)
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints "
                                           "[92.5 (")
    assert alarm["StateReason"].endswith("was greater than or equal to the threshold (50.0) "
                                         "(minimum 1 datapoint for OK -> ALARM transition).")
    reason_data = json.loads(alarm["StateReasonData"])
    assert reason_data["recentDatapoints"] == [92.5] and reason_data["period"] == 10

    (envelope,) = poll(lambda: lab.notifications(queue))
    assert envelope["Subject"] == f'ALARM: "{name}" in Asia Pacific (Seoul)'
    message = json.loads(envelope["Message"])
    assert message["AlarmName"] == name and message["AWSAccountId"] == ACCOUNT
    assert message["NewStateValue"] == "ALARM" and message["OldStateValue"] == "INSUFFICIENT_DATA"
    assert message["NewStateReason"] == alarm["StateReason"]
    assert message["Region"] == "Asia Pacific (Seoul)"
    assert message["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
    assert message["AlarmActions"] == [topic] and message["OKActions"] == [topic]
    assert message["Trigger"] == {
        "MetricName": "CPUUtilization", "Namespace": "AWS/EC2", "StatisticType": "Statistic",
        "Statistic": "AVERAGE", "Unit": None,
        "Dimensions": [{"value": instance, "name": "InstanceId"}], "Period": 10,
        "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 50.0,
        "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": ""}

    # The load stops: a low datapoint in the current period; once the period is over, OK.
    lab.put_cpu(3.5, now(), instance)
    poll(lambda: lab.alarm(name)["StateValue"] == "OK")
    (envelope,) = poll(lambda: lab.notifications(queue))
    assert envelope["Subject"] == f'OK: "{name}" in Asia Pacific (Seoul)'
    message = json.loads(envelope["Message"])
    assert message["NewStateValue"] == "OK" and message["OldStateValue"] == "ALARM"
    assert "[3.5 (" in message["NewStateReason"]
    assert "was not greater than or equal to the threshold (50.0)" in message["NewStateReason"]

    updates = lab.history(name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending")
    assert [item["HistorySummary"] for item in updates] == [
        "Alarm updated from INSUFFICIENT_DATA to ALARM", "Alarm updated from ALARM to OK"]
    actions = lab.history(name, HistoryItemType="Action")
    assert [item["HistorySummary"] for item in actions] == [
        f"Successfully executed action {topic}"] * 2


def test_set_alarm_state_notifies_and_the_history_tells_it_all(lab):
    name = unique("set")
    topic, queue = lab.topic_with_queue(unique("mission-sns"))
    lab.put_alarm(name, topic, Period=60)  # no data, and a state set by hand lasts a period

    lab.cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="Testing the pipeline")
    (envelope,) = poll(lambda: lab.notifications(queue))
    message = json.loads(envelope["Message"])
    assert envelope["Subject"] == f'ALARM: "{name}" in Asia Pacific (Seoul)'
    assert message["NewStateValue"] == "ALARM" and message["OldStateValue"] == "INSUFFICIENT_DATA"
    assert message["NewStateReason"] == "Testing the pipeline"

    # Updating the alarm keeps its state and records the change.
    lab.put_alarm(name, topic, Period=60, Threshold=70.0)
    assert lab.alarm(name)["StateValue"] == "ALARM"

    history = poll(lambda: (lambda h: h if len(h) >= 4 else None)(
        lab.history(name, ScanBy="TimestampAscending")))
    assert [(item["HistoryItemType"], item["HistorySummary"]) for item in history] == [
        ("ConfigurationUpdate", f'Alarm "{name}" created'),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("Action", f"Successfully executed action {topic}"),
        ("ConfigurationUpdate", f'Alarm "{name}" updated'),
    ]
    state_data = json.loads(history[1]["HistoryData"])
    assert state_data["oldState"] == {"stateValue": "INSUFFICIENT_DATA",
                                      "stateReason": "Unchecked: Initial alarm creation"}
    assert state_data["newState"] == {"stateValue": "ALARM", "stateReason": "Testing the pipeline"}
    action_data = json.loads(history[2]["HistoryData"])
    assert action_data["actionState"] == "Succeeded"
    assert json.loads(action_data["publishedMessage"]) == message
    update = json.loads(history[3]["HistoryData"])
    assert update["type"] == "Update" and update["updatedAlarm"]["threshold"] == 70.0
    assert update["originalAlarm"]["threshold"] == 50.0

    # Filters, order and paging.
    assert [i["HistoryItemType"] for i in lab.history(name, HistoryItemType="Action")] == ["Action"]
    assert lab.history(name)[0]["HistorySummary"] == f'Alarm "{name}" updated'   # newest first
    assert lab.history(name, StartDate=now() + timedelta(hours=1)) == []
    paged, token = [], None
    while True:
        answer = lab.cw.describe_alarm_history(AlarmName=name, MaxRecords=1,
                                               **({"NextToken": token} if token else {}))
        paged += answer["AlarmHistoryItems"]
        token = answer.get("NextToken")
        if not token:
            break
    assert [i["HistorySummary"] for i in paged] == [i["HistorySummary"] for i in lab.history(name)]
    with pytest.raises(ClientError) as raised:
        lab.cw.describe_alarm_history(AlarmName=name, NextToken="not-a-token")
    assert raised.value.response["Error"]["Code"] == "InvalidNextToken"

    # Setting the same state again changes nothing and runs no action.
    lab.cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="again")
    assert lab.notifications(queue, wait=2) == []


def test_actions_disabled_publish_nothing(lab):
    name, instance = unique("quiet"), unique("i")
    topic, queue = lab.topic_with_queue(unique("mission-sns"))
    lab.put_alarm(name, topic, ActionsEnabled=False,
                  Dimensions=[{"Name": "InstanceId", "Value": instance}])

    lab.put_cpu(99.0, now() - timedelta(seconds=10), instance)
    poll(lambda: lab.alarm(name)["StateValue"] == "ALARM")
    lab.cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="by hand")
    assert lab.alarm(name)["StateValue"] == "OK"

    assert lab.notifications(queue, wait=3) == []
    types = [item["HistoryItemType"] for item in lab.history(name)]
    assert types.count("StateUpdate") >= 2 and "Action" not in types


def test_an_action_that_cannot_run_is_recorded_as_failed(lab):
    name = unique("broken")
    missing_topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('no-such-topic')}"
    lab.put_alarm(name, missing_topic, Period=60)
    lab.cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="Testing")
    (failed,) = poll(lambda: lab.history(name, HistoryItemType="Action"))
    assert failed["HistorySummary"].startswith(f"Failed to execute action {missing_topic}.")
    assert json.loads(failed["HistoryData"])["actionState"] == "Failed"


def test_deleting_an_alarm_is_in_its_history(lab):
    name = unique("gone")
    lab.put_alarm(name, None)
    lab.cw.delete_alarms(AlarmNames=[name])
    assert lab.cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
    assert lab.history(name)[0]["HistorySummary"] == f'Alarm "{name}" deleted'


# -- all the way to Slack ------------------------------------------------------------------------

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": "lambda.amazonaws.com"}}]}


def zipped(source: str, filename: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, source)
    return buffer.getvalue()


def test_metric_breach_and_set_alarm_state_reach_the_local_slack(home, monkeypatch):
    monkeypatch.setenv(alarms.TICK_VARIABLE, "0.5")
    state, _, _ = cloud.up(home)
    lab = Cloud(state.endpoint_url)
    lam, iam = lab.client("lambda"), lab.client("iam")
    hook = requests.post(state.slack_http_url + "/labkit/slack/webhooks",
                         json={"channel": "project"}, timeout=10).json()
    role = iam.create_role(RoleName="mission-lambda-role",
                           AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.attach_role_policy(
        RoleName="mission-lambda-role",
        PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    function_arn = lam.create_function(
        FunctionName="mission-lambda", Runtime="python3.11", Role=role,
        Handler="slack_notifier.lambda_handler", Timeout=30,
        Code={"ZipFile": zipped(NOTIFIER.read_text(), "slack_notifier.py")},
        Environment={"Variables": {"slackHookUrl": state.slack_https_url + hook["path"],
                                   "slackChannel": "project"}})["FunctionArn"]
    topic = lab.sns.create_topic(Name="mission-sns")["TopicArn"]
    lam.add_permission(FunctionName="mission-lambda", StatementId="sns",
                       Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
                       SourceArn=topic)
    lab.sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    lab.put_alarm("mission-cpu-alarm", topic)

    def slack() -> list[dict]:
        return requests.get(state.slack_http_url + "/api/messages", params={"channel": "project"},
                            timeout=10).json()["messages"]

    lab.put_cpu(97.0, now() - timedelta(seconds=10))
    (first,) = poll(slack)
    posted = json.dumps(first)
    assert "mission-cpu-alarm" in posted and "ALARM" in posted

    lab.cw.set_alarm_state(AlarmName="mission-cpu-alarm", StateValue="OK",
                           StateReason="Testing the way back")
    second = poll(lambda: (lambda m: m[1] if len(m) >= 2 else None)(slack()))
    assert "Testing the way back" in json.dumps(second)
