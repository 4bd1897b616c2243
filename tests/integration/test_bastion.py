"""The instance whose CPU is watched: the local bastion, and picking the learner's on aws.

Against moto in-process, with a small stand-in for the Lab (the client factory, names, tags,
target); one test drives a real local cloud.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

import labkit
from labkit.bastion import (AMI_PARAMETER, INSTANCE_TYPE, choose_bastion, ensure_local_bastion,
                            find_instances, run_stress_over_ssm, stress_script)
from labkit.errors import LabError
from labkit.names import names_for, standard_tags, tag_list

REGION = "ap-northeast-2"


class ManagedSsm:
    """moto's SSM client plus describe_instance_information, which moto does not implement."""

    def __init__(self, real, online: list[str]) -> None:
        self.real, self.online = real, online

    def describe_instance_information(self, **kwargs):
        # Two pages, so paging is exercised; one instance whose agent is not online.
        infos = [{"InstanceId": i, "PingStatus": "Online"} for i in self.online]
        infos.append({"InstanceId": "i-0lost", "PingStatus": "ConnectionLost"})
        if "NextToken" not in kwargs:
            return {"InstanceInformationList": infos[:1], "NextToken": "page-2"}
        return {"InstanceInformationList": infos[1:]}

    def __getattr__(self, name):
        return getattr(self.real, name)


class StandInLab:
    """What the bastion functions use of a Lab."""

    def __init__(self, is_local: bool = True, prefix: str = "", student: str = "",
                 ssm_online: list[str] | None = None) -> None:
        self.is_local = is_local
        self.region = REGION
        self.names = names_for(prefix)
        self.tags = standard_tags(student)
        self.ssm_online = ssm_online

    @property
    def tag_list(self):
        return tag_list(self.tags)

    def client(self, service: str):
        client = boto3.client(service, region_name=REGION)
        if service == "ssm" and self.ssm_online is not None:
            return ManagedSsm(client, self.ssm_online)
        return client


@pytest.fixture
def ec2():
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def instances(ec2) -> list[dict]:
    return [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]


def launch(ec2, name: str | None = None, state: str = "running") -> str:
    """An instance as a learner would have made it in the console."""
    kwargs = {}
    if name:
        kwargs["TagSpecifications"] = [{"ResourceType": "instance",
                                        "Tags": [{"Key": "Name", "Value": name}]}]
    # Listing every image is slow in moto; the public parameter names one at once.
    image = boto3.client("ssm", region_name=REGION).get_parameter(
        Name=AMI_PARAMETER)["Parameter"]["Value"]
    instance_id = ec2.run_instances(ImageId=image, InstanceType="t2.micro", MinCount=1,
                                    MaxCount=1, **kwargs)["Instances"][0]["InstanceId"]
    if state == "stopped":
        ec2.stop_instances(InstanceIds=[instance_id])
    elif state == "terminated":
        ec2.terminate_instances(InstanceIds=[instance_id])
    return instance_id


# -- local -----------------------------------------------------------------------------------
def test_the_local_bastion_is_a_tagged_small_amazon_linux_instance(ec2):
    lab = StandInLab()
    instance_id = ensure_local_bastion(lab)
    (instance,) = instances(ec2)
    assert instance["InstanceId"] == instance_id
    assert instance["State"]["Name"] == "running"
    assert instance["InstanceType"] == INSTANCE_TYPE
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags == {"Name": "bastion", **lab.tags}
    (image,) = ec2.describe_images(ImageIds=[instance["ImageId"]])["Images"]
    assert image["Name"].startswith("al2023-ami-") and image["Architecture"] == "x86_64"


def test_ensuring_twice_gives_the_same_instance(ec2):
    lab = StandInLab()
    assert ensure_local_bastion(lab) == ensure_local_bastion(lab)
    assert len(instances(ec2)) == 1


def test_each_learner_gets_an_own_bastion(ec2):
    default = ensure_local_bastion(StandInLab())
    kim = ensure_local_bastion(StandInLab(prefix="kim-", student="kim"))
    assert default != kim
    names = {t["Value"] for i in instances(ec2) for t in i["Tags"] if t["Key"] == "Name"}
    assert names == {"bastion", "kim-bastion"}


def test_an_untagged_instance_of_the_same_name_is_not_taken_over(ec2):
    stranger = launch(ec2, "bastion")
    assert ensure_local_bastion(StandInLab()) != stranger


def test_a_stopped_bastion_is_started_again_not_doubled(ec2):
    lab = StandInLab()
    first = ensure_local_bastion(lab)
    ec2.stop_instances(InstanceIds=[first])
    assert ensure_local_bastion(lab) == first
    assert [i["State"]["Name"] for i in instances(ec2)] in (["pending"], ["running"])


def test_a_terminated_bastion_is_replaced(ec2):
    lab = StandInLab()
    first = ensure_local_bastion(lab)
    ec2.terminate_instances(InstanceIds=[first])
    second = ensure_local_bastion(lab)
    assert second != first


def test_the_local_bastion_is_never_created_on_aws(ec2):
    with pytest.raises(LabError) as caught:
        ensure_local_bastion(StandInLab(is_local=False))
    assert "local target only" in caught.value.what
    assert "bastion_instance_id" in caught.value.todo
    assert instances(ec2) == []


def test_choosing_on_local_means_the_local_bastion(ec2):
    lab = StandInLab()
    assert choose_bastion(lab) == ensure_local_bastion(lab)


# -- aws: finding and choosing ---------------------------------------------------------------
def test_find_instances_lists_the_running_ones_with_name_type_and_ssm(ec2):
    web = launch(ec2, "web")
    bastion = launch(ec2, "bastion")
    unnamed = launch(ec2)
    launch(ec2, "old", state="stopped")
    launch(ec2, "gone", state="terminated")
    ssm = ManagedSsm(boto3.client("ssm", region_name=REGION), online=[bastion])
    rows = find_instances(ec2, ssm)
    assert {row["id"]: (row["name"], row["type"], row["managed"]) for row in rows} == {
        web: ("web", "t2.micro", False),
        bastion: ("bastion", "t2.micro", True),
        unnamed: ("", "t2.micro", False),
    }
    assert all(row["launched"] is not None for row in rows)


def test_managed_is_unknown_without_ssm_or_where_ssm_cannot_be_asked(ec2):
    launch(ec2, "bastion")
    assert [row["managed"] for row in find_instances(ec2)] == [None]
    # moto has no DescribeInstanceInformation: the same answer as a caller without permission.
    plain_ssm = boto3.client("ssm", region_name=REGION)
    assert [row["managed"] for row in find_instances(ec2, plain_ssm)] == [None]


@pytest.mark.parametrize("prefix, names, expected", [
    ("", ["web", "bastion"], "bastion"),
    ("kim-", ["bastion", "kim-bastion"], "kim-bastion"),  # the learner's own name wins
    ("kim-", ["web", "bastion"], "bastion"),              # the source lab's name will do
])
def test_the_instance_named_bastion_is_chosen(ec2, prefix, names, expected):
    ids = {name: launch(ec2, name) for name in names}
    lab = StandInLab(is_local=False, prefix=prefix)
    assert choose_bastion(lab) == ids[expected]


def test_a_running_instance_given_by_id_is_chosen(ec2):
    launch(ec2, "bastion")
    web = launch(ec2, "web")
    assert choose_bastion(StandInLab(is_local=False), f" {web} ") == web


def test_no_running_instance_says_how_to_get_one(ec2):
    launch(ec2, "bastion", state="stopped")
    with pytest.raises(LabError) as caught:
        choose_bastion(StandInLab(is_local=False))
    assert caught.value.what == f"There is no running EC2 instance in {REGION}."
    assert "EC2 console" in caught.value.todo and "bastion" in caught.value.todo


def test_several_instances_and_none_named_bastion_asks_for_an_id(ec2):
    web, db = launch(ec2, "web"), launch(ec2)
    with pytest.raises(LabError) as caught:
        choose_bastion(StandInLab(is_local=False))
    assert f"{web} (web)" in caught.value.what and f"{db} (no name)" in caught.value.what
    assert "bastion_instance_id = 'i-...'" in caught.value.todo


def test_a_stopped_instance_id_says_to_start_it(ec2):
    stopped = launch(ec2, "bastion", state="stopped")
    with pytest.raises(LabError) as caught:
        choose_bastion(StandInLab(is_local=False), stopped)
    assert caught.value.what == f"Instance {stopped} is stopped, not running."
    assert "Start instance" in caught.value.todo


@pytest.mark.parametrize("wrong", ["i-0123456789abcdef0", "bastion", "i-"])
def test_a_wrong_id_says_to_check_id_and_region(ec2, wrong):
    running = launch(ec2, "web")
    with pytest.raises(LabError) as caught:
        choose_bastion(StandInLab(is_local=False), wrong)
    assert caught.value.what == (f"There is no instance {wrong} in {REGION} "
                                 f"(running there: {running}).")
    assert "region" in caught.value.todo


def test_choosing_on_aws_creates_nothing(ec2):
    for attempt in (None, "i-0123456789abcdef0"):
        with pytest.raises(LabError):
            choose_bastion(StandInLab(is_local=False), attempt)
    assert instances(ec2) == []


# -- aws: the load through SSM Run Command ---------------------------------------------------
@pytest.mark.parametrize("workers, timeout, runs", [
    (2, 300, ["stress --cpu 2 --timeout 300", "stress-ng --cpu 2 --timeout 300"]),
    (1, 90.5, ["stress --cpu 1 --timeout 91", "stress-ng --cpu 1 --timeout 91"]),
])
def test_stress_script_installs_stress_if_missing_then_runs_it(workers, timeout, runs):
    # How the script behaves on each Amazon Linux: tests/unit/test_bastion_ssm.py runs it.
    lines = [line.strip() for line in stress_script(workers, timeout)]
    assert [line for line in lines if line.startswith("stress")] == runs
    assert lines.index("sudo dnf install -y stress-ng") < lines.index(runs[0])


def test_stress_runs_over_ssm_on_a_managed_instance(ec2):
    bastion = launch(ec2, "bastion")
    lab = StandInLab(is_local=False, ssm_online=[bastion])
    command_id = run_stress_over_ssm(lab, bastion)
    assert command_id
    (command,) = boto3.client("ssm", region_name=REGION).list_commands(
        CommandId=command_id)["Commands"]
    assert command["DocumentName"] == "AWS-RunShellScript"
    assert command["InstanceIds"] == [bastion]
    assert command["Parameters"]["commands"] == stress_script(2, 300)
    assert command["Parameters"]["executionTimeout"] == ["900"]
    assert "stress --cpu 2 --timeout 300" in command["Comment"]


@pytest.mark.parametrize("online", [[], ["i-0someoneelse"], None])
def test_an_unmanaged_instance_gets_no_command(ec2, online):
    bastion = launch(ec2, "bastion")
    lab = StandInLab(is_local=False, ssm_online=online)  # None: SSM cannot be asked
    assert run_stress_over_ssm(lab, bastion) is None
    assert boto3.client("ssm", region_name=REGION).list_commands()["Commands"] == []


def test_run_command_is_not_for_the_local_target(ec2):
    with pytest.raises(LabError, match="Run Command reaches real instances only"):
        run_stress_over_ssm(StandInLab(is_local=True), "i-0abc")


# -- a real local cloud ----------------------------------------------------------------------
@pytest.mark.integration
def test_the_local_cloud_runs_one_bastion(home):
    lab = labkit.start()
    instance_id = ensure_local_bastion(lab)
    assert ensure_local_bastion(lab) == instance_id
    assert choose_bastion(lab) == instance_id
    found = lab.client("ec2").describe_instances(InstanceIds=[instance_id])
    (instance,) = found["Reservations"][0]["Instances"]
    assert instance["State"]["Name"] == "running"
    assert {"Key": "Name", "Value": lab.names.bastion} in instance["Tags"]
