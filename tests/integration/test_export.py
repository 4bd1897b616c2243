"""`labkit export cloudformation` and lab.export_template() on a local cloud where a learner
with an id (kim) finished notebooks 00-06: the template is read from the live resources.

The learner without an id exports, lints and deploys in notebook 09 itself (nbval and the
batch runs); that both export the same template but for the Student tag is a unit test's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from labkit import i18n
from labkit.classroom.check import observer_lab
from labkit.config import LabConfig
from labkit.errors import LabError
from labkit.local import cloud
from labkit.stack.export import export_template
from labkit.stack.lint import lint_template
from labkit.stack.template import GetAtt, Sub, load_template
from tests.secret_scan import slack_secrets_in

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LEARNERS = ("kim",)


def labkit_command(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LABKIT_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "labkit", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def finished(module_home) -> Path:
    """One local cloud where 'kim' ran notebooks 00-06 (catch-up replays the solutions; the
    bastion's figures are scripted, the CPU is not the point)."""
    cloud.up(module_home)
    runs = [subprocess.Popen(
        [sys.executable, "-m", "labkit", "catch-up", "07", "-q", "--bastion-cpu", "scripted",
         *(["--student", student] if student else []), "--out", str(module_home / f"run{student}")],
        cwd=ROOT, env=dict(os.environ, LABKIT_HOME=str(module_home)), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True) for student in LEARNERS]
    for run in runs:
        output, _ = run.communicate(timeout=600)
        assert run.returncode == 0, output
    return module_home


def lab_of(student: str = "", lang: str = "en"):
    return observer_lab(LabConfig(student=student, lang=lang))


@pytest.fixture(scope="module")
def exported(finished) -> dict[str, str]:
    return {student: export_template(lab_of(student)) for student in LEARNERS}


def test_every_name_is_made_from_name_prefix(exported):
    resources = load_template(exported["kim"])["Resources"]
    names = {logical_id: next(value.text for key, value in resource["Properties"].items()
                              if key.endswith("Name") and isinstance(value, Sub))
             for logical_id, resource in resources.items()
             if logical_id not in ("Subscription", "InvokePermission", "Key")}
    assert names == {"Topic": "${NamePrefix}mission-sns",
                     "Role": "${NamePrefix}mission-lambda-role",
                     "DecryptPolicy": "${NamePrefix}AwsLambdaKmsExcutionPolicy",
                     "KeyAlias": "alias/${NamePrefix}mission-kms-key",
                     "LogGroup": "/aws/lambda/${NamePrefix}mission-lambda",
                     "Function": "${NamePrefix}mission-lambda",
                     "Alarm": "${NamePrefix}mission-cpu-alarm"}


@pytest.mark.parametrize("student", LEARNERS)
def test_the_decrypt_condition_names_the_function_the_learners_key_context_names(
        exported, student):
    lab = lab_of(student)
    live = lab.client("lambda").get_function_configuration(FunctionName=lab.names.function)
    (statement,) = load_template(exported[student])["Resources"]["DecryptPolicy"][
        "Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "kms:Decrypt"
    assert statement["Resource"] == GetAtt("Key", "Arn")
    (condition,) = statement["Condition"]["StringEquals"].values()
    # The stack's name of the function, with the learner's own prefix put back, is the live one.
    assert condition == Sub("${NamePrefix}mission-lambda")
    assert condition.text.replace("${NamePrefix}", lab.config.prefix) == live["FunctionName"]


def test_the_parameters_are_the_contracts_and_the_webhook_is_no_echo(exported):
    parameters = load_template(exported["kim"])["Parameters"]
    assert list(parameters) == ["NamePrefix", "EncryptedWebhook", "InstanceId", "CodeS3Bucket",
                                "CodeS3Key"]
    assert parameters["EncryptedWebhook"]["NoEcho"] is True


@pytest.mark.parametrize("student", LEARNERS)
def test_no_secret_nor_anything_of_the_learners_own_is_in_the_template(exported, student):
    lab = lab_of(student)
    text = exported[student]
    live = lab.client("lambda").get_function_configuration(FunctionName=lab.names.function)
    ciphertext = live["Environment"]["Variables"]["kmsEncryptedHookUrl"]
    alarm = lab.client("cloudwatch").describe_alarms(AlarmNames=[lab.names.alarm])[
        "MetricAlarms"][0]
    (instance,) = [d["Value"] for d in alarm["Dimensions"]]
    key = lab.client("kms").describe_key(KeyId=lab.names.kms_alias)["KeyMetadata"]
    webhook = lab.webhook().reveal()
    assert len(ciphertext) > 100  # notebook 04 put the real ciphertext there
    for own in (ciphertext, ciphertext[:24], urllib.parse.urlsplit(webhook).path, lab.account,
                instance, key["KeyId"], live["FunctionArn"], live["Role"]):
        assert own not in text
    assert slack_secrets_in(text) == []


@pytest.mark.parametrize("student", LEARNERS)
def test_cfn_lint_finds_nothing(exported, student):
    assert lint_template(exported[student], "ap-northeast-2") == []


def test_the_command_prints_and_writes_the_same_text(finished, exported, tmp_path):
    out = tmp_path / "kim.yaml"
    written = labkit_command(finished, "export", "cloudformation", "--student", "kim",
                             "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert out.read_text(encoding="utf-8") == exported["kim"]
    assert str(out) in written.stdout
    printed = labkit_command(finished, "export", "cloudformation", "--student", "kim")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == exported["kim"]


def test_a_learner_who_built_nothing_is_told_which_notebook_to_run(finished):
    with pytest.raises(LabError) as error:
        export_template(lab_of("lee"))
    assert "lee-mission-sns" in error.value.what and "02" in error.value.what
    assert "catch_up" in error.value.todo
    i18n.set_language("ko")  # as labkit.start(lang="ko") does
    try:
        with pytest.raises(LabError) as korean:
            export_template(lab_of("lee", lang="ko"))
    finally:
        i18n.set_language("en")
    assert "SNS 주제(lee-mission-sns)가 없습니다" in korean.value.what


def test_the_command_says_so_without_a_traceback(finished, tmp_path):
    out = tmp_path / "lee.yaml"
    done = labkit_command(finished, "export", "cloudformation", "--student", "lee",
                          "--out", str(out))
    assert done.returncode == 2
    assert "No SNS topic lee-mission-sns" in done.stderr and "notebook 02" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_a_piece_missing_further_on_names_its_own_notebook(finished):
    # kim's alarm gone: everything up to notebook 05 is there, so the export stops at 06.
    lab = lab_of("kim")
    cloudwatch = lab.client("cloudwatch")
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[lab.names.alarm])["MetricAlarms"]
    cloudwatch.delete_alarms(AlarmNames=[lab.names.alarm])
    try:
        with pytest.raises(LabError) as error:
            export_template(lab)
        assert "kim-mission-cpu-alarm" in error.value.what
        assert "notebook 06" in error.value.what
    finally:
        keys = ("AlarmName", "AlarmDescription", "Namespace", "MetricName", "Dimensions",
                "Statistic", "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
                "ComparisonOperator", "TreatMissingData", "AlarmActions", "OKActions")
        cloudwatch.put_metric_alarm(**{k: alarm[k] for k in keys}, Tags=lab.tag_list)
