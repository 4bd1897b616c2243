"""The grading functions of the exercises no step check shows, against a real local cloud.

Notebook 07's cleanup: a point only for what existed before and is gone after. Notebook 08's
role policy and redrive. Notebook 06's alarm state set by hand (an AWS-only exercise: the lab
is dressed as an AWS one, its calls still go to the local cloud).

Each test has a learner of its own (``student``), so that what one builds is nobody else's.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib

import pytest
import requests

import labkit
from labkit import i18n
from labkit.classroom.grading import (
    assert_decrypts,
    assert_flaky_role_policy,
    assert_redriven,
    assert_removed,
    assert_set_by_hand,
    record_before_cleanup,
)
from labkit.functions import HANDLER, SOURCE
from labkit.names import flaky_names

pytestmark = pytest.mark.integration

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture
def lab(module_home, request):
    """A learner of the test's own on the module's cloud."""
    return labkit.start(student=f"g{zlib.crc32(request.node.name.encode()) % 10**6}")


# -- what notebook 04 to 06 build, and what each cleanup exercise does ----------------------
def build_role(lab) -> None:
    lab.client("iam").create_role(RoleName=lab.names.role, AssumeRolePolicyDocument=TRUST,
                                  Tags=lab.tag_list)


def build_role_with_policy(lab) -> None:
    build_role(lab)
    lab.client("iam").attach_role_policy(RoleName=lab.names.role, PolicyArn=BASIC)


def build_function(lab) -> None:
    build_role(lab)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(SOURCE, arcname=SOURCE.name)
    role = f"arn:aws:iam::{lab.account}:role/{lab.names.role}"
    lab.client("lambda").create_function(
        FunctionName=lab.names.function, Role=role, Runtime="python3.12", Handler=HANDLER,
        Code={"ZipFile": buffer.getvalue()}, Tags=lab.tags)


def build_alarm(lab) -> None:
    lab.client("cloudwatch").put_metric_alarm(
        AlarmName=lab.names.alarm, Namespace="AWS/EC2", MetricName="CPUUtilization",
        Statistic="Average", Period=10, EvaluationPeriods=1, Threshold=50.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", Tags=lab.tag_list)


def build_key(lab) -> None:
    kms = lab.client("kms")
    key_id = kms.create_key(Tags=lab.kms_tag_list)["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=lab.names.kms_alias, TargetKeyId=key_id)


def topic_arn(lab) -> str:
    return f"arn:aws:sns:{lab.region}:{lab.account}:{lab.names.topic}"


def schedule_keys(lab) -> None:
    kms = lab.client("kms")
    key_id = kms.describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)


# thing -> (build it, remove it as its exercise does, a piece of the message naming it)
CASES = {
    "alarm": (build_alarm,
              lambda lab: lab.client("cloudwatch").delete_alarms(AlarmNames=[lab.names.alarm]),
              "CloudWatch alarm {p}mission-cpu-alarm"),
    "topic": (lambda lab: lab.client("sns").create_topic(Name=lab.names.topic,
                                                         Tags=lab.tag_list),
              lambda lab: lab.client("sns").delete_topic(TopicArn=topic_arn(lab)),
              "SNS topic {p}mission-sns"),
    "function": (build_function,
                 lambda lab: lab.client("lambda").delete_function(
                     FunctionName=lab.names.function),
                 "Lambda function {p}mission-lambda"),
    "role_policies": (build_role_with_policy,
                      lambda lab: lab.client("iam").detach_role_policy(
                          RoleName=lab.names.role, PolicyArn=BASIC),
                      "IAM role {p}mission-lambda-role"),
    "role": (build_role, lambda lab: lab.client("iam").delete_role(RoleName=lab.names.role),
             "IAM role {p}mission-lambda-role"),
    "keys": (build_key, schedule_keys, "KMS key"),
}


@pytest.mark.parametrize("thing", CASES)
def test_a_resource_built_then_removed_passes(lab, thing):
    build, remove, _ = CASES[thing]
    build(lab)
    before = record_before_cleanup(lab)
    remove(lab)
    assert_removed(lab, before, thing)


@pytest.mark.parametrize("thing", CASES)
def test_a_resource_never_built_fails_naming_it(lab, thing):
    _, _, named = CASES[thing]
    before = record_before_cleanup(lab)
    with pytest.raises(AssertionError, match="(?i)did not exist|no policy was attached|no KMS key"
                       ) as failure:
        assert_removed(lab, before, thing)
    if thing != "keys":
        assert named.format(p=lab.config.prefix) in str(failure.value)
    assert "nothing to" in str(failure.value)


@pytest.mark.parametrize("thing", CASES)
def test_a_resource_built_and_left_fails_naming_it(lab, thing):
    build, _, named = CASES[thing]
    build(lab)
    before = record_before_cleanup(lab)
    with pytest.raises(AssertionError, match="(?i)still|not pending deletion") as failure:
        assert_removed(lab, before, thing)
    assert named.format(p=lab.config.prefix) in str(failure.value)
    if thing == "keys":
        key_id = lab.client("kms").describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]["KeyId"]
        assert key_id in str(failure.value)
    if thing == "role_policies":
        assert BASIC in str(failure.value)


def test_the_record_names_what_exists_and_nobody_elses(lab):
    build_alarm(lab)
    build_role_with_policy(lab)
    other = labkit.start(student=f"{lab.config.student}x")
    build_alarm(other)
    before = record_before_cleanup(lab)
    assert before["alarm"] == {lab.names.alarm}
    assert before["role"] == {lab.names.role}
    assert before["role_policies"] == {BASIC}
    assert before["topic"] == before["function"] == before["keys"] == frozenset()


def test_a_role_deleted_has_its_policies_detached_too(lab):
    build_role_with_policy(lab)
    before = record_before_cleanup(lab)
    iam = lab.client("iam")
    iam.detach_role_policy(RoleName=lab.names.role, PolicyArn=BASIC)
    iam.delete_role(RoleName=lab.names.role)
    assert_removed(lab, before, "role_policies")
    assert_removed(lab, before, "role")


def test_a_key_pending_deletion_before_the_cleanup_earns_nothing(lab):
    build_key(lab)
    schedule_keys(lab)  # scheduled by an earlier cleanup: nothing left for this one
    with pytest.raises(AssertionError, match="no KMS key in use"):
        assert_removed(lab, record_before_cleanup(lab), "keys")


def test_a_key_found_by_its_tags_alone_must_be_scheduled_too(lab):
    build_key(lab)
    kms = lab.client("kms")
    orphan = kms.create_key(Tags=lab.kms_tag_list)["KeyMetadata"]["KeyId"]
    before = record_before_cleanup(lab)
    assert orphan in before["keys"] and len(before["keys"]) == 2
    schedule_keys(lab)  # the alias's key only
    with pytest.raises(AssertionError, match=orphan):
        assert_removed(lab, before, "keys")
    kms.schedule_key_deletion(KeyId=orphan, PendingWindowInDays=7)
    assert_removed(lab, before, "keys")


@pytest.mark.parametrize("before", [None, {}])
def test_no_record_is_no_pass(lab, before):
    with pytest.raises(AssertionError, match="was not recorded"):
        assert_removed(lab, before, "alarm")


def test_the_messages_are_in_the_learners_language(module_home):
    lab = labkit.start(student="gko", lang="ko")
    try:
        with pytest.raises(AssertionError, match="CloudWatch 알람 gko-mission-cpu-alarm"):
            assert_removed(lab, record_before_cleanup(lab), "alarm")
    finally:
        i18n.set_language("en")


# -- notebook 04: the ciphertext --------------------------------------------------------------
def lab_key(lab) -> str:
    kms = lab.client("kms")
    key_id = kms.create_key(Tags=lab.kms_tag_list)["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=lab.names.kms_alias, TargetKeyId=key_id)
    return key_id


def test_the_ciphertext_counts_only_with_the_functions_context(lab):
    kms, key_id = lab.client("kms"), lab_key(lab)
    right = kms.encrypt(KeyId=key_id, Plaintext=b"https://example.invalid/hook",
                        EncryptionContext={"LambdaFunctionName": lab.names.function})
    assert_decrypts(lab, right["CiphertextBlob"])
    wrong = kms.encrypt(KeyId=key_id, Plaintext=b"https://example.invalid/hook",
                        EncryptionContext={"LambdaFunctionName": "someone-else"})
    with pytest.raises(AssertionError, match="encryption context naming your function"):
        assert_decrypts(lab, wrong["CiphertextBlob"])
    with pytest.raises(AssertionError, match="No ciphertext"):
        assert_decrypts(lab, None)


def test_the_ciphertext_messages_are_korean_for_a_korean_lab(module_home):
    lab = labkit.start(student="gkc", lang="ko")
    try:
        with pytest.raises(AssertionError, match="암호문이 없습니다"):
            assert_decrypts(lab, None)
    finally:
        i18n.set_language("en")


# -- notebook 08 ------------------------------------------------------------------------------
def flaky_arns(lab) -> tuple[str, str]:
    flaky = flaky_names(lab.config.prefix)
    return (f"arn:aws:ssm:{lab.region}:{lab.account}:parameter/{flaky.parameter}",
            f"arn:aws:sqs:{lab.region}:{lab.account}:{flaky.queue}")


def put_flaky_policy(lab, statements: list[dict]) -> None:
    flaky = flaky_names(lab.config.prefix)
    iam = lab.client("iam")
    iam.create_role(RoleName=flaky.role, AssumeRolePolicyDocument=TRUST, Tags=lab.tag_list)
    iam.put_role_policy(RoleName=flaky.role, PolicyName="any-name", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))


def test_the_flaky_role_policy_that_grants_both_passes(lab):
    parameter, queue = flaky_arns(lab)
    put_flaky_policy(lab, [
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": parameter},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue}])
    assert_flaky_role_policy(lab)


def test_a_flaky_role_policy_missing_a_grant_fails_naming_it(lab):
    parameter, queue = flaky_arns(lab)
    put_flaky_policy(lab, [
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": parameter},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue + "-other"}])
    with pytest.raises(AssertionError, match="do not allow: sqs:SendMessage") as failure:
        assert_flaky_role_policy(lab)
    assert "ssm:GetParameter" not in str(failure.value)


def test_a_flaky_role_without_its_policy_or_missing_fails(lab):
    flaky = flaky_names(lab.config.prefix)
    with pytest.raises(AssertionError, match=f"IAM role {flaky.role} does not exist"):
        assert_flaky_role_policy(lab)
    lab.client("iam").create_role(RoleName=flaky.role, AssumeRolePolicyDocument=TRUST)
    with pytest.raises(AssertionError, match="ssm:GetParameter .*; sqs:SendMessage"):
        assert_flaky_role_policy(lab)


def dead_lettered(alarm: str) -> dict:
    """A message of the dead-letter queue, as receive_message gives it: the SNS event."""
    event = {"Records": [{"Sns": {"Message": json.dumps({"AlarmName": alarm})}}]}
    return {"Body": json.dumps(event), "MessageAttributes": {}}


def last_id(lab) -> int:
    """The newest message of the flaky channel, as notebook 08 reads it before its scenes."""
    earlier = lab.slack_messages(channel=flaky_names(lab.config.prefix).channel)
    return earlier[-1]["id"] if earlier else 0


def post_to_flaky_channel(lab, text: str) -> None:
    webhook = lab.webhook(channel=flaky_names(lab.config.prefix).channel)
    answer = requests.post(webhook.reveal(), json={"text": text}, verify=lab.state.ca_bundle,
                           timeout=10)
    assert answer.status_code == 200


@pytest.fixture
def flaky_queue(lab):
    sqs = lab.client("sqs")
    return sqs.create_queue(QueueName=flaky_names(lab.config.prefix).queue)["QueueUrl"]


def test_a_redriven_alarm_in_the_channel_once_and_an_empty_queue_pass(lab, flaky_queue):
    after_id = last_id(lab)
    post_to_flaky_channel(lab, 'ALARM: "flaky-down-for-good" in ap-northeast-2')
    assert_redriven(lab, dead_lettered("flaky-down-for-good"), after_id)


def test_a_redrive_that_did_not_reach_slack_fails(lab, flaky_queue):
    after_id = last_id(lab)
    post_to_flaky_channel(lab, 'ALARM: "flaky-outage"')  # another alarm
    with pytest.raises(AssertionError, match="flaky-down-for-good reached #.*0 time"):
        assert_redriven(lab, dead_lettered("flaky-down-for-good"), after_id)


def test_a_redrive_posted_twice_fails(lab, flaky_queue):
    after_id = last_id(lab)
    post_to_flaky_channel(lab, "flaky-down-for-good")
    post_to_flaky_channel(lab, "flaky-down-for-good")
    with pytest.raises(AssertionError, match="2 time"):
        assert_redriven(lab, dead_lettered("flaky-down-for-good"), after_id)


def test_a_redrive_that_left_the_event_in_the_queue_fails(lab, flaky_queue):
    sqs = lab.client("sqs")
    sqs.send_message(QueueUrl=flaky_queue, MessageBody=dead_lettered("flaky-down-for-good")["Body"])
    sqs.receive_message(QueueUrl=flaky_queue)  # in flight, as the notebook leaves it
    after_id = last_id(lab)
    post_to_flaky_channel(lab, "flaky-down-for-good")
    with pytest.raises(AssertionError, match="mission-flaky-dlq still holds 1 message"):
        assert_redriven(lab, dead_lettered("flaky-down-for-good"), after_id)


@pytest.mark.parametrize("dead_letter", [None, {"Body": "not json"}])
def test_no_dead_lettered_event_is_no_pass(lab, dead_letter):
    with pytest.raises(AssertionError, match="No event to send again"):
        assert_redriven(lab, dead_letter, 0)


# -- notebook 06 on AWS -----------------------------------------------------------------------
class OnAws:
    """The lab as on target aws (``is_local`` false); its calls still go to the local cloud."""

    is_local = False

    def __init__(self, lab):
        self._lab = lab

    def __getattr__(self, name):
        return getattr(self._lab, name)


def test_the_quick_test_applies_on_aws_with_alarm_quick_test_only(lab, capsys):
    assert_set_by_hand(lab, True)  # local: the exercise's code does not run
    assert_set_by_hand(OnAws(lab), False)
    assert capsys.readouterr().out.count("alarm_quick_test = True only") == 2


def test_the_quick_test_passes_once_the_alarm_was_set_to_alarm_by_hand(lab):
    build_alarm(lab)
    with pytest.raises(AssertionError, match=f"{lab.names.alarm} shows no change to ALARM"):
        assert_set_by_hand(OnAws(lab), True)
    lab.client("cloudwatch").set_alarm_state(AlarmName=lab.names.alarm, StateValue="ALARM",
                                             StateReason="by hand")
    assert_set_by_hand(OnAws(lab), True)
