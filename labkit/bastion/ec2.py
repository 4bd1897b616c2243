"""The EC2 instance whose CPU the alarm watches: the source lab's "bastion".

local: labkit runs a small instance named ``bastion`` in the local cloud (this machine then plays
it: :mod:`.load` makes the load, :mod:`.metric_agent` reports its CPU).

aws: the learner's own instance is used by default, and nothing is created; at most the
``stress`` command is sent to the instance through SSM Run Command, if the instance is managed.
Only when asked, :func:`launch_bastion` starts the smallest sensible instance, tagged as the lab's
(billable while it runs; notebook 07 terminates it).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import LabError
from .load import stress_command

# The smallest type that is sensible for a bastion: 2 vCPUs, as `stress --cpu 2` expects, and
# 1 GiB, enough for dnf to install stress-ng (the cheaper t4g.nano has 0.5 GiB). Free-tier
# eligible on many accounts; x86_64, so it takes the AMI parameter below.
INSTANCE_TYPE = "t3.micro"
# AWS's public parameter naming the current Amazon Linux 2023 AMI; the local cloud knows it too.
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
# The source lab's instance name, also accepted on aws when the learner has no prefix in it.
SOURCE_NAME = "bastion"

_LIVE_STATES = ("pending", "running")
_NEVER = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


# -- local -----------------------------------------------------------------------------------
def ensure_local_bastion(lab: Any) -> str:
    """The instance id of the lab's bastion in the local cloud, running one if there is none.

    Idempotent: a second call (a re-run cell) returns the same instance.
    """
    if not lab.is_local:
        raise LabError("labkit creates the bastion instance on the local target only.",
                       "On target 'aws', pick your own instance: choose_bastion(lab, "
                       "instance_id='i-...').")
    ec2 = lab.client("ec2")
    found = _our_instances(lab, ec2)
    live = [i for i in found if i["State"]["Name"] in _LIVE_STATES]
    if live:
        return _oldest(live)["InstanceId"]
    if found:
        # A stopped bastion is started again rather than doubled.
        instance_id = _oldest(found)["InstanceId"]
        ec2.start_instances(InstanceIds=[instance_id])
        return instance_id
    answer = ec2.run_instances(
        ImageId=_local_ami(lab), InstanceType=INSTANCE_TYPE, MinCount=1, MaxCount=1,
        TagSpecifications=_tag_specifications(lab, ("instance",)))
    return answer["Instances"][0]["InstanceId"]


def _tag_specifications(lab: Any, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """The lab's tags (and the bastion's Name) for each resource type in *kinds*."""
    tags = [{"Key": "Name", "Value": lab.names.bastion}, *lab.tag_list]
    return [{"ResourceType": kind, "Tags": tags} for kind in kinds]


def _our_instances(lab: Any, ec2: Any) -> list[dict[str, Any]]:
    """The lab's bastions (named and tagged as this learner's) that are not terminated."""
    filters = [{"Name": "tag:Name", "Values": [lab.names.bastion]}]
    filters += [{"Name": f"tag:{key}", "Values": [value]} for key, value in lab.tags.items()]
    return _instances(ec2, filters + [{"Name": "instance-state-name",
                                       "Values": [*_LIVE_STATES, "stopping", "stopped"]}])


def _local_ami(lab: Any) -> str:
    """The Amazon Linux 2023 AMI id, looked up the way AWS documents it (a public parameter)."""
    try:
        return lab.client("ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    except ClientError:
        images = lab.client("ec2").describe_images(
            Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023*-x86_64"]}]
        )["Images"]
        if not images:
            raise LabError("The local cloud lists no Amazon Linux 2023 image.",
                           "Restart the local cloud (`labkit local down`, then re-run the "
                           "first cells).") from None
        return max(images, key=lambda image: image.get("CreationDate", ""))["ImageId"]


# -- aws -------------------------------------------------------------------------------------
def launch_bastion(lab: Any, subnet_id: str | None = None) -> str:
    """The id of a bastion launched for the lab: only when the learner asks for one.

    aws: a t3.micro with the current Amazon Linux 2023 (AWS's public SSM parameter), tagged as
    the learner's, metadata service v2 only, in the default VPC (or *subnet_id*). It is billable
    while it runs, which is printed; notebook 07 terminates it. Idempotent: a re-run returns
    the bastion already launched (starting it again if it was stopped). Waits until it runs.
    local: the same as :func:`ensure_local_bastion`.
    """
    if lab.is_local:
        return ensure_local_bastion(lab)
    ec2 = lab.client("ec2")
    found = _our_instances(lab, ec2)
    live = [i for i in found if i["State"]["Name"] in _LIVE_STATES]
    if live:
        instance_id = _oldest(live)["InstanceId"]
        print(f"{lab.names.bastion} already runs: {instance_id} (billable while it runs; "
              "notebook 07 terminates it).")
    elif found:
        instance = _oldest(found)
        instance_id = instance["InstanceId"]
        if instance["State"]["Name"] == "stopping":  # EC2 starts only a fully stopped instance
            ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id])
        ec2.start_instances(InstanceIds=[instance_id])
        print(f"Started {lab.names.bastion} {instance_id} again (billable while it runs; "
              "notebook 07 terminates it).")
    else:
        instance_id = _run_bastion(lab, ec2, subnet_id)
        print(f"💲 Launched {lab.names.bastion} {instance_id}: a {INSTANCE_TYPE} in "
              f"{lab.region}, billed with its disk per second while it runs (a few cents for "
              "this lab, unless your free tier covers it). Notebook 07 terminates it.")
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id],
                                            WaiterConfig={"Delay": 5, "MaxAttempts": 60})
    return instance_id


def _run_bastion(lab: Any, ec2: Any, subnet_id: str | None) -> str:
    """RunInstances for the bastion; a LabError naming the fix when the account cannot."""
    try:
        ami = lab.client("ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    except ClientError as exc:
        raise LabError(f"Could not read the Amazon Linux 2023 image id from {AMI_PARAMETER} "
                       f"({exc.response.get('Error', {}).get('Code', '')}).",
                       "It needs the permission ssm:GetParameter on AWS's public parameters; "
                       "or launch an instance in the EC2 console and set "
                       "bastion_instance_id.") from exc
    request: dict[str, Any] = dict(
        ImageId=ami, InstanceType=INSTANCE_TYPE, MinCount=1, MaxCount=1,
        # Instance metadata v2 only, as AWS recommends; Amazon Linux 2023 needs nothing else.
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
        # Its disk is a billable resource too: tagged, so the cost shows as the lab's.
        TagSpecifications=_tag_specifications(lab, ("instance", "volume")))
    if subnet_id:
        request["SubnetId"] = subnet_id
    try:
        answer = ec2.run_instances(**request)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("VPCIdNotSpecified", "MissingInput", "InvalidSubnetID.NotFound",
                    "InvalidSubnet"):
            raise LabError(f"EC2 needs a subnet for the bastion in {lab.region} ({code}).",
                           "Your account has no default VPC there: pass "
                           "launch_bastion(lab, subnet_id='subnet-...') with a subnet from the "
                           "VPC console, or use your own instance (bastion_instance_id).") from exc
        raise
    return answer["Instances"][0]["InstanceId"]


def find_instances(ec2: Any, ssm: Any | None = None) -> list[dict[str, Any]]:
    """The running instances of the region, oldest first, for the learner to choose from.

    Each is ``{"id", "name", "type", "managed", "launched"}``. ``managed`` tells whether SSM
    can run commands on it (its agent is online); it is None when unknown (no *ssm* client,
    or the caller may not ask SSM).
    """
    instances = _instances(ec2, [{"Name": "instance-state-name", "Values": ["running"]}])
    managed = _managed_ids(ssm) if ssm is not None else None
    rows = []
    for instance in sorted(instances, key=_launch_key):
        rows.append({
            "id": instance["InstanceId"],
            "name": _name(instance),
            "type": instance.get("InstanceType", ""),
            "managed": None if managed is None else instance["InstanceId"] in managed,
            "launched": instance.get("LaunchTime"),
        })
    return rows


def choose_bastion(lab: Any, instance_id: str | None = None) -> str:
    """The id of the instance to watch: *instance_id* if it runs, else the one named bastion.

    local: the lab's own bastion (created if needed) unless *instance_id* names another.
    aws: never creates anything; a LabError says what to do when there is no suitable instance.
    """
    if lab.is_local and instance_id is None:
        return ensure_local_bastion(lab)
    ec2 = lab.client("ec2")
    known = _instances(ec2, [{"Name": "instance-state-name",
                              "Values": ["pending", "running", "stopping", "stopped"]}])
    running = [i for i in known if i["State"]["Name"] == "running"]
    if instance_id is not None:
        return _check_chosen(lab, instance_id.strip(), known, running)
    wanted = [lab.names.bastion, SOURCE_NAME]
    for name in dict.fromkeys(wanted):
        named = [i for i in running if _name(i) == name]
        if named:
            return _oldest(named)["InstanceId"]
    if not running:
        raise LabError(
            f"There is no running EC2 instance in {lab.region}.",
            f"Launch one in the EC2 console (Amazon Linux 2023, {INSTANCE_TYPE}, named "
            f"'{lab.names.bastion}'), or start the source lab's bastion, then re-run this cell. "
            f"Or let the lab launch one: launch_bastion(lab) (billable while it runs; notebook "
            f"07 terminates it).")
    listed = ", ".join(f"{i['InstanceId']} ({_name(i) or 'no name'})"
                       for i in sorted(running, key=_launch_key))
    raise LabError(
        f"No running instance is named '{lab.names.bastion}'; running: {listed}.",
        "Set instance_id = 'i-...' in the parameters cell to the instance to put load on, "
        "then re-run.")


def _check_chosen(lab: Any, instance_id: str, known: list[dict], running: list[dict]) -> str:
    """*instance_id* if it is running, else a LabError naming what is wrong with it."""
    if any(i["InstanceId"] == instance_id for i in running):
        return instance_id
    match = [i for i in known if i["InstanceId"] == instance_id]
    if match:
        state = match[0]["State"]["Name"]
        todo = ("Wait until the EC2 console shows it Running, then re-run this cell."
                if state == "pending" else
                "Start it in the EC2 console (Instance state → Start instance), wait until it "
                "shows Running, then re-run this cell.")
        raise LabError(f"Instance {instance_id} is {state}, not running.", todo)
    listed = ", ".join(i["InstanceId"] for i in running) or "none"
    raise LabError(
        f"There is no instance {instance_id} in {lab.region} (running there: {listed}).",
        "Copy the Instance ID (i-...) from the EC2 console, check that the lab's region is the "
        "console's region, then re-run.")


def stress_script(workers: int = 2, timeout: float = 300) -> list[str]:
    """The shell lines Run Command executes: install ``stress`` if missing, then run it.

    Amazon Linux 2 has ``stress`` in its repositories; Amazon Linux 2023 has ``stress-ng``,
    which takes the same options.
    """
    command = stress_command(workers, timeout)
    return [
        "if ! command -v stress >/dev/null 2>&1 && ! command -v stress-ng >/dev/null 2>&1; then",
        "  sudo yum install -y stress || sudo dnf install -y stress-ng",
        "fi",
        "if command -v stress >/dev/null 2>&1; then",
        f"  {command}",
        "else",
        f"  {command.replace('stress ', 'stress-ng ', 1)}",
        "fi",
    ]


def run_stress_over_ssm(lab: Any, instance_id: str, workers: int = 2,
                        timeout: float = 300) -> str | None:
    """Run ``stress --cpu <workers> --timeout <timeout>`` on the instance with SSM Run Command.

    Returns the command id, or None when the instance is not managed by SSM (or SSM may not be
    asked): then show ``stress_command(...)`` for the learner to run on the instance by hand.
    """
    if lab.is_local:
        raise LabError("Run Command reaches real instances only.",
                       "On the local target this machine plays the bastion: use "
                       "labkit.bastion.load.CpuLoad for the load.")
    ssm = lab.client("ssm")
    managed = _managed_ids(ssm)
    if not managed or instance_id not in managed:
        return None
    answer = ssm.send_command(
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        Comment=f"cloudwatch-slack-lab: {stress_command(workers, timeout)}",
        Parameters={"commands": stress_script(workers, timeout),
                    # Installing the package, then the load itself, with room to spare.
                    "executionTimeout": [str(math.ceil(timeout) + 600)]},
    )
    return answer["Command"]["CommandId"]


# -- helpers ---------------------------------------------------------------------------------
def _instances(ec2: Any, filters: list[dict]) -> list[dict[str, Any]]:
    """Every instance matching *filters*, across reservations and pages."""
    found: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            found.extend(reservation["Instances"])
    return found


def _managed_ids(ssm: Any) -> set[str] | None:
    """Ids of instances whose SSM agent is online; None if SSM cannot be asked."""
    ids: set[str] = set()
    kwargs: dict[str, Any] = {}
    try:
        while True:
            page = ssm.describe_instance_information(**kwargs)
            ids.update(info["InstanceId"] for info in page.get("InstanceInformationList", [])
                       if info.get("PingStatus") == "Online")
            if not page.get("NextToken"):
                return ids
            kwargs["NextToken"] = page["NextToken"]
    # No permission (AccessDenied) or an endpoint without this API (the local cloud lacks it).
    except (ClientError, BotoCoreError, NotImplementedError):
        return None


def _name(instance: dict) -> str:
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == "Name"), "")


def _launch_key(instance: dict) -> tuple:
    return (instance.get("LaunchTime") or _NEVER, instance["InstanceId"])


def _oldest(instances: list[dict]) -> dict:
    return min(instances, key=_launch_key)
