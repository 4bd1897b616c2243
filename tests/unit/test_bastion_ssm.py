"""The bastion on aws, reached through Systems Manager: its IAM role and instance profile, the
wait for its SSM agent, Run Command's stress script and the wait for the command's end.

moto in-process answers EC2 and IAM; botocore's Stubber plays SSM where moto cannot (it has no
DescribeInstanceInformation) and EC2 or IAM where an answer must be scripted. Waits run on a
fake clock, so no test sleeps.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

import labkit.bastion.ec2 as ec2_module
from labkit.bastion import (SSM_POLICY_ARN, choose_bastion, launch_bastion, run_stress_over_ssm,
                            stress_script, wait_for_command)
from labkit.errors import LabError

from .test_aws_target import (REGION, aws, managed_policies, record_calls,  # noqa: F401
                              start_aws)


CMD, CMD2 = "0b5a6e3c-1d2f-4a5b-8c9d-0e1f2a3b4c5d", "7c1e9a20-4b3d-4f6e-9a8b-1c2d3e4f5a6b"


@pytest.fixture
def clock(monkeypatch):
    """A fake clock for the bastion's waits: each sleep moves it on; the sleeps are kept."""
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(ec2_module, "_clock", lambda: now[0])
    monkeypatch.setattr(ec2_module, "_sleep", sleep)
    return slept


def trusted_services(document) -> list[str]:
    if isinstance(document, str):
        document = json.loads(document)
    return [s["Principal"]["Service"] for s in document["Statement"]
            if s["Effect"] == "Allow" and s["Action"] == "sts:AssumeRole"]


# -- the instance profile ----------------------------------------------------------------------
def test_launch_bastion_gives_it_an_ssm_instance_profile_and_no_key_pair(managed_policies,
                                                                          capsys):
    lab = start_aws(student="kim")
    calls = record_calls(lab)
    instance_id = launch_bastion(lab)

    iam = boto3.client("iam")
    role = iam.get_role(RoleName="kim-bastion-ssm-role")["Role"]
    assert trusted_services(role["AssumeRolePolicyDocument"]) == ["ec2.amazonaws.com"]
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == lab.tags
    attached = iam.list_attached_role_policies(RoleName="kim-bastion-ssm-role")
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [SSM_POLICY_ARN]
    assert SSM_POLICY_ARN.endswith(":policy/AmazonSSMManagedInstanceCore")
    profile = iam.get_instance_profile(InstanceProfileName="kim-bastion-ssm-profile")
    assert [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]] == ["kim-bastion-ssm-role"]
    assert {t["Key"]: t["Value"] for t in profile["InstanceProfile"]["Tags"]} == lab.tags

    (sent,) = [params for name, params in calls if name == "RunInstances"]
    assert sent["IamInstanceProfile"] == {"Name": "kim-bastion-ssm-profile"}
    assert "KeyName" not in sent
    # A datapoint a minute for the alarm's 60-second period.
    assert sent["Monitoring"] == {"Enabled": True}
    instance = boto3.client("ec2", region_name=REGION).describe_instances(
        InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert instance["IamInstanceProfile"]["Arn"].endswith(
        ":instance-profile/kim-bastion-ssm-profile")
    assert "KeyName" not in instance
    said = capsys.readouterr().out
    assert "Created IAM role kim-bastion-ssm-role" in said


def test_a_re_run_reuses_the_role_and_profile_and_creates_nothing_new(managed_policies):
    lab = start_aws(student="kim")
    first = launch_bastion(lab)
    calls = record_calls(lab)
    assert launch_bastion(lab) == first
    names = [name for name, _ in calls]
    assert "RunInstances" not in names and "AddRoleToInstanceProfile" not in names
    iam = boto3.client("iam")
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]] \
        == ["kim-bastion-ssm-profile"]
    assert len(iam.list_roles()["Roles"]) == 1


def test_a_role_of_that_name_that_is_not_the_learners_stops_the_launch(managed_policies):
    lab = start_aws(student="kim")
    boto3.client("iam").create_role(RoleName="kim-bastion-ssm-role",
                                    AssumeRolePolicyDocument="{}",
                                    Tags=[{"Key": "Team", "Value": "data"}])
    calls = record_calls(lab)
    with pytest.raises(LabError) as raised:
        launch_bastion(lab)
    assert "IAM role 'kim-bastion-ssm-role'" in raised.value.what
    assert "Team=data" in raised.value.what
    names = [name for name, _ in calls]
    assert "RunInstances" not in names and "AttachRolePolicy" not in names


def test_a_profile_of_that_name_that_is_not_the_learners_stops_the_launch(managed_policies):
    lab = start_aws(student="kim")
    boto3.client("iam").create_instance_profile(InstanceProfileName="kim-bastion-ssm-profile")
    with pytest.raises(LabError) as raised:
        launch_bastion(lab)
    assert "'kim-bastion-ssm-profile'" in raised.value.what and "no tags" in raised.value.what
    assert boto3.client("ec2", region_name=REGION).describe_instances()["Reservations"] == []


def test_run_instances_waits_until_ec2_knows_the_new_profile(managed_policies, monkeypatch,
                                                             capsys):
    lab = start_aws(student="kim")
    slept: list[float] = []
    lab._sleep = slept.append
    ec2 = boto3.client("ec2", region_name=REGION)
    real_client = lab.client
    monkeypatch.setattr(lab, "client",
                        lambda service, **kw: ec2 if service == "ec2" else real_client(service))
    not_yet = ("Value (kim-bastion-ssm-profile) for parameter iamInstanceProfile.name is "
               "invalid. Invalid IAM Instance Profile name")
    running = {"Reservations": [{"Instances": [{"InstanceId": "i-0123456789abcdef0",
                                                "State": {"Name": "running"}}]}]}
    launch = {"ImageId": ANY, "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1,
              "IamInstanceProfile": {"Name": "kim-bastion-ssm-profile"},
              "MetadataOptions": ANY, "Monitoring": {"Enabled": True},
              "TagSpecifications": ANY}
    with Stubber(ec2) as stub:
        stub.add_response("describe_instances", {"Reservations": []})
        for _ in range(2):
            stub.add_client_error("run_instances", "InvalidParameterValue", not_yet, 400,
                                  expected_params=launch)
        stub.add_response("run_instances", {"Instances": [
            {"InstanceId": "i-0123456789abcdef0"}]}, launch)
        stub.add_response("describe_instances", running)  # the instance_running waiter
        assert launch_bastion(lab) == "i-0123456789abcdef0"
        stub.assert_no_pending_responses()
    assert slept == [3.0, 3.0]
    waits = [line for line in capsys.readouterr().out.splitlines() if line.startswith("⏳")]
    assert len(waits) == 2 and all("InvalidParameterValue" in line for line in waits)


def test_a_real_mistake_in_run_instances_is_not_retried(managed_policies, monkeypatch):
    lab = start_aws()
    slept: list[float] = []
    lab._sleep = slept.append
    ec2 = boto3.client("ec2", region_name=REGION)
    real_client = lab.client
    monkeypatch.setattr(lab, "client",
                        lambda service, **kw: ec2 if service == "ec2" else real_client(service))
    with Stubber(ec2) as stub:
        stub.add_response("describe_instances", {"Reservations": []})
        stub.add_client_error("run_instances", "InvalidParameterValue",
                              "Invalid value 't3.nano2' for InstanceType.", 400)
        with pytest.raises(ec2.exceptions.ClientError):
            launch_bastion(lab)
    assert slept == []


def test_a_bastion_launched_without_a_profile_is_given_one(managed_policies, capsys):
    lab = start_aws(student="kim")
    ec2 = boto3.client("ec2", region_name=REGION)
    image = boto3.client("ssm", region_name=REGION).get_parameter(
        Name=ec2_module.AMI_PARAMETER)["Parameter"]["Value"]
    old = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance",
         "Tags": [{"Key": "Name", "Value": "kim-bastion"}, *lab.tag_list]}])
    old_id = old["Instances"][0]["InstanceId"]
    assert launch_bastion(lab) == old_id
    instance = ec2.describe_instances(InstanceIds=[old_id])["Reservations"][0]["Instances"][0]
    assert instance["IamInstanceProfile"]["Arn"].endswith("/kim-bastion-ssm-profile")
    assert "Gave " + old_id in capsys.readouterr().out


# -- choosing an instance: the errors name the notebook's parameter -----------------------------
def test_errors_about_the_instance_name_the_notebook_parameter(aws):
    lab = start_aws()
    with pytest.raises(LabError) as none_running:
        choose_bastion(lab)
    with pytest.raises(LabError) as wrong_id:
        choose_bastion(lab, "i-0123456789abcdef0")
    for raised in (none_running, wrong_id):
        assert "bastion_instance_id" in raised.value.todo
    assert "Set instance_id" not in none_running.value.todo


# -- waiting for the SSM agent -----------------------------------------------------------------
def stub_ssm(lab, monkeypatch) -> Stubber:
    """The lab's SSM client, answered by a Stubber (moto has no DescribeInstanceInformation)."""
    ssm = boto3.client("ssm", region_name=REGION)
    real_client = lab.client
    monkeypatch.setattr(lab, "client",
                        lambda service, **kw: ssm if service == "ssm" else real_client(service))
    return Stubber(ssm)


def agent(instance_id: str, status: str | None) -> dict:
    """DescribeInstanceInformation's answer: *status*, or None when never registered."""
    infos = [] if status is None else [{"InstanceId": instance_id, "PingStatus": status}]
    return {"InstanceInformationList": infos}


def only(instance_id: str) -> dict:
    return {"Filters": [{"Key": "InstanceIds", "Values": [instance_id]}]}


def test_stress_waits_for_a_freshly_launched_bastion_to_come_online(managed_policies,
                                                                     monkeypatch, clock, capsys):
    lab = start_aws(student="kim")
    bastion = launch_bastion(lab)
    with stub_ssm(lab, monkeypatch) as stub:
        stub.add_response("describe_instance_information", agent(bastion, None), only(bastion))
        for status in (None,) * 7 + ("ConnectionLost", "Online"):
            stub.add_response("describe_instance_information", agent(bastion, status),
                              only(bastion))
        stub.add_response("send_command", {"Command": {"CommandId": CMD}}, {
            "InstanceIds": [bastion], "DocumentName": "AWS-RunShellScript", "Comment": ANY,
            "Parameters": {"commands": stress_script(2, 300), "executionTimeout": ["900"]}})
        assert run_stress_over_ssm(lab, bastion, workers=2, timeout=300) == CMD
        stub.assert_no_pending_responses()
    assert clock == [5.0] * 8
    said = capsys.readouterr().out
    assert f"Waiting for the SSM agent of {bastion}" in said
    assert "not registered yet (30 s)" in said
    assert f"{bastion} is Online in Systems Manager after 40 s" in said


def test_an_agent_that_never_comes_online_gives_up_in_bounded_time(managed_policies,
                                                                    monkeypatch, clock, capsys):
    lab = start_aws(student="kim")
    bastion = launch_bastion(lab)
    with stub_ssm(lab, monkeypatch) as stub:
        for _ in range(1 + 13):
            stub.add_response("describe_instance_information", agent(bastion, None))
        assert run_stress_over_ssm(lab, bastion, online_timeout=60) is None
        stub.assert_no_pending_responses()  # asked once, then for 60 s every 5 s: no command
    assert sum(clock) == 60
    assert "NAT gateway or VPC endpoints" in capsys.readouterr().out


def test_an_instance_that_is_not_the_labs_bastion_is_not_waited_for(aws, monkeypatch, clock):
    lab = start_aws(student="kim")
    ec2 = boto3.client("ec2", region_name=REGION)
    image = boto3.client("ssm", region_name=REGION).get_parameter(
        Name=ec2_module.AMI_PARAMETER)["Parameter"]["Value"]
    own = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    with stub_ssm(lab, monkeypatch) as stub:
        stub.add_response("describe_instance_information", agent(own, None))
        assert run_stress_over_ssm(lab, own) is None
        stub.assert_no_pending_responses()
    assert clock == []


def test_a_bastion_launched_long_ago_is_not_waited_for(managed_policies, monkeypatch, clock):
    lab = start_aws(student="kim")
    bastion = launch_bastion(lab)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return later

    monkeypatch.setattr(ec2_module.dt, "datetime", Later)
    with stub_ssm(lab, monkeypatch) as stub:
        stub.add_response("describe_instance_information", agent(bastion, "ConnectionLost"))
        assert run_stress_over_ssm(lab, bastion) is None
    assert clock == []


def test_an_online_instance_gets_the_command_at_once(aws, monkeypatch, clock):
    lab = start_aws()
    with stub_ssm(lab, monkeypatch) as stub:
        stub.add_response("describe_instance_information", agent("i-0abc", "Online"))
        stub.add_response("send_command", {"Command": {"CommandId": CMD2}})
        assert run_stress_over_ssm(lab, "i-0abc", workers=1, timeout=60) == CMD2
    assert clock == []


# -- waiting for the command -------------------------------------------------------------------
def invocation(status: str, **more) -> dict:
    return {"CommandId": CMD, "InstanceId": "i-0abc", "Status": status,
            "StatusDetails": status, **more}


def test_wait_for_command_waits_through_not_yet_known_and_in_progress(aws, monkeypatch, clock,
                                                                       capsys):
    lab = start_aws()
    asked = {"CommandId": CMD, "InstanceId": "i-0abc"}
    with stub_ssm(lab, monkeypatch) as stub:
        stub.add_client_error("get_command_invocation", "InvocationDoesNotExist", "", 400,
                              expected_params=asked)
        stub.add_response("get_command_invocation", invocation("Pending"), asked)
        for _ in range(8):
            stub.add_response("get_command_invocation", invocation("InProgress"), asked)
        stub.add_response("get_command_invocation", invocation("Success"), asked)
        assert wait_for_command(lab, "i-0abc", CMD) == "Success"
        stub.assert_no_pending_responses()
    assert clock == [5.0] * 10
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"⏳ Run Command {CMD} on i-0abc: Pending (0 s)")
    assert any("InProgress (10 s)" in line for line in lines)
    assert any("InProgress (40 s)" in line for line in lines)  # again after half a minute
    assert lines[-1] == f"Run Command {CMD} on i-0abc: Success after 50 s."


@pytest.mark.parametrize("status", ["Failed", "TimedOut", "Cancelled"])
def test_wait_for_command_returns_how_the_command_ended(aws, monkeypatch, clock, capsys, status):
    lab = start_aws()
    with stub_ssm(lab, monkeypatch) as stub:
        stub.add_response("get_command_invocation", invocation("InProgress"))
        stub.add_response("get_command_invocation", invocation(
            status, StandardErrorContent="No match for argument: stress-ng\nError: nothing"))
        assert wait_for_command(lab, "i-0abc", CMD) == status
    said = capsys.readouterr().out
    assert f"{CMD} on i-0abc: {status} after 5 s." in said
    assert "  Error: nothing" in said


def test_wait_for_command_is_bounded(aws, monkeypatch, clock):
    lab = start_aws()
    with stub_ssm(lab, monkeypatch) as stub:
        for _ in range(7):
            stub.add_response("get_command_invocation", invocation("InProgress"))
        with pytest.raises(LabError) as raised:
            wait_for_command(lab, "i-0abc", CMD, timeout=30)
        stub.assert_no_pending_responses()
    assert "still InProgress on i-0abc after 30 s" in raised.value.what
    assert f"cancel_command(CommandId='{CMD}')" in raised.value.todo


def test_another_error_is_not_waited_through(aws, monkeypatch, clock):
    lab = start_aws()
    with stub_ssm(lab, monkeypatch) as stub:
        stub.add_client_error("get_command_invocation", "InvalidCommandId", "", 400)
        with pytest.raises(Exception, match="InvalidCommandId"):
            wait_for_command(lab, "i-0abc", CMD)
    assert clock == []


# -- the stress script on each Amazon Linux -----------------------------------------------------
FAKE_TOOL = """#!{bash}
echo "${{0##*/}} $*" >> {log}
{body}
"""


def install(bin_dir: Path, name: str, body: str = "") -> None:
    tool = bin_dir / name
    tool.write_text(FAKE_TOOL.format(bash=shutil.which("bash"), log=bin_dir / "log", body=body))
    tool.chmod(0o755)


def package_manager(bin_dir: Path, name: str, packages: list[str], needs: str = "") -> None:
    """A fake dnf/yum: installs one of *packages* (as a fake tool), or fails; *needs*: a file
    that must exist first (EPEL enabled)."""
    tools = " ".join(packages)
    gate = f'[ -e "{bin_dir / needs}" ] || exit 1' if needs else ""
    made = f'#!{shutil.which("bash")}\\necho "${{0##*/}} $*" >> {bin_dir / "log"}\\n'
    install(bin_dir, name, f"""
{gate}
for tool in {tools}; do
  if [ "$3" = "$tool" ]; then
    printf '{made}' > "{bin_dir}/$tool"
    {shutil.which("chmod")} 755 "{bin_dir}/$tool"
    exit 0
  fi
done
exit 1""")


def run_script(bin_dir: Path) -> tuple[int, list[str], str]:
    install(bin_dir, "sudo", '"$@"')
    (bin_dir / "log").touch()
    done = subprocess.run([shutil.which("bash"), "-c", "\n".join(stress_script(2, 300))],
                          env={"PATH": str(bin_dir)}, capture_output=True, text=True,
                          timeout=30)
    log = [line for line in (bin_dir / "log").read_text().splitlines()
           if not line.startswith("sudo ")]
    return done.returncode, log, done.stderr


def test_on_amazon_linux_2023_dnf_installs_stress_ng_and_it_runs(tmp_path):
    package_manager(tmp_path, "dnf", ["stress-ng"])
    package_manager(tmp_path, "yum", ["stress-ng"])  # yum is dnf on Amazon Linux 2023
    code, log, _ = run_script(tmp_path)
    assert code == 0
    assert log == ["dnf install -y stress-ng", "stress-ng --cpu 2 --timeout 300"]


def test_on_amazon_linux_2_epel_is_enabled_for_stress_and_it_runs(tmp_path):
    package_manager(tmp_path, "yum", ["stress"], needs="epel")
    install(tmp_path, "amazon-linux-extras", f': > "{tmp_path / "epel"}"')
    code, log, _ = run_script(tmp_path)
    assert code == 0
    assert log == ["yum install -y stress", "amazon-linux-extras install epel -y",
                   "yum install -y stress", "stress --cpu 2 --timeout 300"]


def test_an_instance_with_stress_already_installs_nothing(tmp_path):
    package_manager(tmp_path, "dnf", ["stress-ng"])
    install(tmp_path, "stress")
    code, log, _ = run_script(tmp_path)
    assert code == 0 and log == ["stress --cpu 2 --timeout 300"]


def test_when_nothing_can_be_installed_the_command_fails_and_says_so(tmp_path):
    package_manager(tmp_path, "dnf", [])
    code, log, stderr = run_script(tmp_path)
    assert code == 1 and log == ["dnf install -y stress-ng"]
    assert "Could not install stress or stress-ng" in stderr


def test_the_script_is_valid_for_sh_too():
    # Run Command's AWS-RunShellScript runs the lines with sh on some images.
    sh = shutil.which("sh")
    assert subprocess.run([sh, "-n", "-c", "\n".join(stress_script())],
                          env=dict(os.environ)).returncode == 0
