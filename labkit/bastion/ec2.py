"""The EC2 instance whose CPU the alarm watches: the source lab's "bastion".

local: labkit runs a small instance named ``bastion`` in the local cloud; :mod:`.machine` gives
it its own vCPUs and processes, and :mod:`.metric_agent` reports its CPU.

aws: the learner's own instance is used by default, and nothing is created; at most the
``stress`` command is sent to the instance through SSM Run Command, if the instance is managed.
Only when asked, :func:`launch_bastion` starts the smallest sensible instance, tagged as the lab's
(billable while it runs; notebook 07 terminates it), with an IAM role that lets Systems Manager
run commands on it: no key pair, no open port. :func:`run_stress_over_ssm` sends the load and
:func:`wait_for_command` waits until it has ended.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import LabError
from ..i18n import t
from .cpu_load import stress_command

# The smallest type that is sensible for a bastion: 2 vCPUs, as `stress --cpu 2` expects, and
# 1 GiB, enough for dnf to install stress-ng (the cheaper t4g.nano has 0.5 GiB). Free-tier
# eligible on many accounts; x86_64, so it takes the AMI parameter below.
INSTANCE_TYPE = "t3.micro"
# AWS's public parameter naming the current Amazon Linux 2023 AMI; the local cloud knows it too.
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
# The source lab's instance name, also accepted on aws when the learner has no prefix in it.
SOURCE_NAME = "bastion"

# The AWS managed policy that lets the SSM agent register the instance and run commands.
SSM_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"

_LIVE_STATES = ("pending", "running")
_NEVER = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
# Only EC2 may wear the bastion's role.
_EC2_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
# An instance profile made a moment ago is unknown to EC2 for some seconds ("Value (...) for
# parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name").
_NEW_PROFILE = ("InvalidParameterValue: Invalid IAM Instance Profile",)
_NEW_PROFILE_ATTEMPTS, _NEW_PROFILE_DELAY = 20, 3.0
# A bastion launched or started this recently may still be booting its SSM agent: worth waiting.
_FRESH = dt.timedelta(minutes=15)
# Statuses of a command on one instance after which nothing more happens.
FINAL_STATUSES = ("Success", "Failed", "TimedOut", "Cancelled")
# How often the waits below ask, and how often they say that they are still waiting.
_POLL, _SAY_EVERY = 5.0, 30.0
# Replaced by tests, so that waiting takes no time.
_clock = time.monotonic
_sleep = time.sleep


# -- local -----------------------------------------------------------------------------------
def ensure_local_bastion(lab: Any) -> str:
    """The instance id of the lab's bastion in the local cloud, running one if there is none.

    Idempotent: a second call (a re-run cell) returns the same instance.
    """
    if not lab.is_local:
        raise LabError(t("bastion.local_only.what"), t("bastion.local_only.todo"))
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
            raise LabError(t("bastion.no_image.what"), t("bastion.no_image.todo")) from None
        return max(images, key=lambda image: image.get("CreationDate", ""))["ImageId"]


# -- aws -------------------------------------------------------------------------------------
def launch_bastion(lab: Any, subnet_id: str | None = None) -> str:
    """The id of a bastion launched for the lab: only when the learner asks for one.

    aws: a t3.micro with the current Amazon Linux 2023 (AWS's public SSM parameter), tagged as
    the learner's, metadata service v2 only, in the default VPC (or *subnet_id*), without a key
    pair: it wears the instance profile of :func:`ensure_bastion_profile`, so Systems Manager
    runs commands on it (:func:`run_stress_over_ssm`). It is billable while it runs, which is
    printed; notebook 07 terminates it and deletes the role and profile. Idempotent: a re-run
    returns the bastion already launched (starting it again if it was stopped, and giving it
    the profile if it has none). Waits until it runs.
    local: the same as :func:`ensure_local_bastion`.
    """
    if lab.is_local:
        return ensure_local_bastion(lab)
    ec2 = lab.client("ec2")
    found = _our_instances(lab, ec2)
    profile = ensure_bastion_profile(lab)
    live = [i for i in found if i["State"]["Name"] in _LIVE_STATES]
    if live:
        instance = _oldest(live)
        instance_id = instance["InstanceId"]
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
        instance, instance_id = None, _run_bastion(lab, ec2, subnet_id, profile)
        print(f"💲 Launched {lab.names.bastion} {instance_id}: a {INSTANCE_TYPE} in "
              f"{lab.region}, billed with its disk per second while it runs (a few cents for "
              "this lab, unless your free tier covers it). Notebook 07 terminates it.")
    if instance is not None and not instance.get("IamInstanceProfile"):
        # A bastion launched before the lab gave it a profile: Run Command needs one.
        lab.until_consistent(
            lambda: ec2.associate_iam_instance_profile(
                InstanceId=instance_id, IamInstanceProfile={"Name": profile}),
            retry_on=_NEW_PROFILE, attempts=_NEW_PROFILE_ATTEMPTS, delay=_NEW_PROFILE_DELAY)
        print(f"Gave {instance_id} the instance profile {profile}: its SSM agent registers "
              "within a few minutes.")
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id],
                                            WaiterConfig={"Delay": 5, "MaxAttempts": 60})
    return instance_id


def ensure_bastion_profile(lab: Any) -> str:
    """The name of the bastion's instance profile, made (with its role) if it is not there yet.

    The role is trusted by EC2 only and has the AWS managed policy AmazonSSMManagedInstanceCore
    (the SSM agent registers the instance and runs commands); the instance profile holds it.
    Both carry the lab's tags. Idempotent: what exists is checked to be the learner's (a
    LabError if not) and completed. aws only: nothing here is billed.
    """
    if lab.is_local:
        raise LabError(t("bastion.profile_aws_only.what"), t("bastion.profile_aws_only.todo"))
    iam = lab.client("iam")
    role, profile = lab.names.bastion_role, lab.names.bastion_profile
    try:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(_EC2_TRUST),
                        Description="The lab's bastion: Systems Manager may run commands on it",
                        Tags=lab.tag_list)
        print(f"Created IAM role {role} (EC2 may assume it).")
    except iam.exceptions.EntityAlreadyExistsException:
        lab.ensure_ours("IAM role", role, lambda: iam.get_role(RoleName=role)["Role"].get("Tags"))
    iam.attach_role_policy(RoleName=role, PolicyArn=SSM_POLICY_ARN)
    try:
        holds = iam.create_instance_profile(InstanceProfileName=profile,
                                            Tags=lab.tag_list)["InstanceProfile"]["Roles"]
        print(f"Created instance profile {profile}.")
    except iam.exceptions.EntityAlreadyExistsException:
        found = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
        lab.ensure_ours("IAM instance profile", profile, found.get("Tags"))
        holds = found["Roles"]
    # A profile holds at most one role: put ours in, in place of any other.
    for other in [r["RoleName"] for r in holds if r["RoleName"] != role]:
        iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=other)
    if not any(r["RoleName"] == role for r in holds):
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    return profile


def _run_bastion(lab: Any, ec2: Any, subnet_id: str | None, profile: str) -> str:
    """RunInstances for the bastion; a LabError naming the fix when the account cannot."""
    try:
        ami = lab.client("ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    except ClientError as exc:
        raise LabError(t("bastion.image_unreadable.what", parameter=AMI_PARAMETER,
                         code=exc.response.get("Error", {}).get("Code", "")),
                       t("bastion.image_unreadable.todo")) from exc
    request: dict[str, Any] = dict(
        ImageId=ami, InstanceType=INSTANCE_TYPE, MinCount=1, MaxCount=1,
        # No KeyName: nobody logs in; commands reach it through Systems Manager.
        IamInstanceProfile={"Name": profile},
        # Instance metadata v2 only, as AWS recommends; Amazon Linux 2023 needs nothing else.
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
        # The alarm's one-minute period needs a CPU datapoint every minute: detailed monitoring
        # (basic monitoring sends one every five). Billed per metric, by the hour: cents here.
        Monitoring={"Enabled": True},
        # Its disk is a billable resource too: tagged, so the cost shows as the lab's.
        TagSpecifications=_tag_specifications(lab, ("instance", "volume")))
    if subnet_id:
        request["SubnetId"] = subnet_id
    try:
        answer = lab.until_consistent(lambda: ec2.run_instances(**request),
                                      retry_on=_NEW_PROFILE, attempts=_NEW_PROFILE_ATTEMPTS,
                                      delay=_NEW_PROFILE_DELAY)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("VPCIdNotSpecified", "MissingInput", "InvalidSubnetID.NotFound",
                    "InvalidSubnet"):
            raise LabError(t("bastion.no_subnet.what", region=lab.region, code=code),
                           t("bastion.no_subnet.todo")) from exc
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
        raise LabError(t("bastion.none_running.what", region=lab.region),
                       t("bastion.none_running.todo", instance_type=INSTANCE_TYPE,
                         name=lab.names.bastion))
    listed = ", ".join(f"{i['InstanceId']} ({_name(i) or t('bastion.no_name')})"
                       for i in sorted(running, key=_launch_key))
    raise LabError(t("bastion.none_named.what", name=lab.names.bastion, listed=listed),
                   t("bastion.none_named.todo"))


def _check_chosen(lab: Any, instance_id: str, known: list[dict], running: list[dict]) -> str:
    """*instance_id* if it is running, else a LabError naming what is wrong with it."""
    if any(i["InstanceId"] == instance_id for i in running):
        return instance_id
    match = [i for i in known if i["InstanceId"] == instance_id]
    if match:
        state = match[0]["State"]["Name"]
        todo = t("bastion.not_running.todo_pending" if state == "pending"
                 else "bastion.not_running.todo")
        raise LabError(t("bastion.not_running.what", instance_id=instance_id, state=state), todo)
    listed = ", ".join(i["InstanceId"] for i in running) or t("bastion.none")
    raise LabError(t("bastion.unknown_instance.what", instance_id=instance_id,
                     region=lab.region, listed=listed),
                   t("bastion.unknown_instance.todo"))


def stress_script(workers: int = 2, timeout: float = 300) -> list[str]:
    """The shell lines Run Command executes: install ``stress`` if missing, then run it.

    Amazon Linux 2023 (dnf) has ``stress-ng``, which takes the same options; Amazon Linux 2
    (yum) has ``stress`` in EPEL, which ``amazon-linux-extras`` enables. Run Command runs the
    lines as root; ``sudo`` keeps them right for a learner who pastes them into a shell.
    """
    command = stress_command(workers, timeout)
    return [
        "if ! command -v stress >/dev/null 2>&1 && ! command -v stress-ng >/dev/null 2>&1; then",
        "  if command -v dnf >/dev/null 2>&1; then  # Amazon Linux 2023",
        "    sudo dnf install -y stress-ng",
        "  else  # Amazon Linux 2: stress comes from EPEL",
        "    sudo yum install -y stress || { sudo amazon-linux-extras install epel -y && "
        "sudo yum install -y stress; }",
        "  fi",
        "fi",
        "if command -v stress >/dev/null 2>&1; then",
        f"  {command}",
        "elif command -v stress-ng >/dev/null 2>&1; then",
        f"  {command.replace('stress ', 'stress-ng ', 1)}",
        "else",
        "  echo 'Could not install stress or stress-ng: see the lines above.' >&2",
        "  exit 1",
        "fi",
    ]


def run_stress_over_ssm(lab: Any, instance_id: str, workers: int = 2, timeout: float = 300,
                        *, online_timeout: float = 300.0) -> str | None:
    """Run ``stress --cpu <workers> --timeout <timeout>`` on the instance with SSM Run Command.

    The command installs ``stress`` (or ``stress-ng``) first if the instance lacks it. When the
    instance is the lab's own bastion, launched or started a moment ago by
    :func:`launch_bastion`, its SSM agent may not have registered yet: this waits up to
    *online_timeout* seconds for it, printing a line now and then.

    Returns the command id (hand it to :func:`wait_for_command`), or None when the instance is
    not managed by SSM (or SSM may not be asked): then show ``stress_command(...)`` for the
    learner to run on the instance by hand.
    """
    if lab.is_local:
        raise LabError(t("bastion.ssm_real_only.what"), t("bastion.ssm_real_only.todo_run"))
    ssm = lab.client("ssm")
    status = _ping_status(ssm, instance_id)
    if status is None:
        return None
    if status != "Online":
        if not _fresh_lab_bastion(lab, instance_id):
            return None
        if not _wait_until_online(lab, ssm, instance_id, online_timeout):
            return None
    answer = ssm.send_command(
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        Comment=f"cloudwatch-slack-lab: {stress_command(workers, timeout)}",
        Parameters={"commands": stress_script(workers, timeout),
                    # Installing the package, then the load itself, with room to spare.
                    "executionTimeout": [str(math.ceil(timeout) + 600)]},
    )
    command_id = answer["Command"]["CommandId"]
    print(f"Run Command {command_id} sent to {instance_id}: {stress_command(workers, timeout)}")
    return command_id


def wait_for_command(lab: Any, instance_id: str, command_id: str,
                     timeout: float = 1200.0) -> str:
    """Wait until Run Command *command_id* has ended on *instance_id*; its final status.

    The status is one of :data:`FINAL_STATUSES` ("Success", "Failed", "TimedOut",
    "Cancelled"). Right after SendCommand, SSM may not know the invocation yet
    (InvocationDoesNotExist): that is waited through too. A line is printed when the status
    changes and every half minute; the end of the command's error output is printed when it
    did not succeed. A LabError after *timeout* seconds, when it is still running.
    """
    if lab.is_local:
        raise LabError(t("bastion.ssm_real_only.what"), t("bastion.ssm_real_only.todo_wait"))
    ssm = lab.client("ssm")
    started = _clock()
    said, said_at = "", started
    while True:
        try:
            invocation = ssm.get_command_invocation(CommandId=command_id,
                                                    InstanceId=instance_id)
            status = invocation["Status"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvocationDoesNotExist":
                raise
            invocation, status = {}, "Pending"  # SSM has not recorded it for the instance yet
        elapsed = _clock() - started
        if status in FINAL_STATUSES:
            detail = invocation.get("StatusDetails", status)
            print(f"Run Command {command_id} on {instance_id}: {detail} after "
                  f"{_duration(elapsed)}.")
            errors = (invocation.get("StandardErrorContent") or "").strip().splitlines()
            if status != "Success" and errors:
                print("  " + "\n  ".join(errors[-5:]))
            return status
        if elapsed >= timeout:
            raise LabError(t("bastion.command_running.what", command_id=command_id,
                             status=status, instance_id=instance_id,
                             duration=_duration(elapsed)),
                           t("bastion.command_running.todo", command_id=command_id))
        if status != said or _clock() - said_at >= _SAY_EVERY:
            print(f"⏳ Run Command {command_id} on {instance_id}: {status} "
                  f"({_duration(elapsed)})")
            said, said_at = status, _clock()
        _sleep(_POLL)


# -- helpers ---------------------------------------------------------------------------------
def _instances(ec2: Any, filters: list[dict]) -> list[dict[str, Any]]:
    """Every instance matching *filters*, across reservations and pages."""
    found: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            found.extend(reservation["Instances"])
    return found


def _ping_statuses(ssm: Any, **filters: Any) -> dict[str, str] | None:
    """The SSM agent status ("Online", "ConnectionLost", ...) of each instance SSM knows (those
    *filters* select), across pages; None when SSM cannot be asked."""
    statuses: dict[str, str] = {}
    kwargs: dict[str, Any] = dict(filters)
    try:
        while True:
            page = ssm.describe_instance_information(**kwargs)
            statuses.update((info["InstanceId"], str(info.get("PingStatus", "")))
                            for info in page.get("InstanceInformationList", []))
            if not page.get("NextToken"):
                return statuses
            kwargs["NextToken"] = page["NextToken"]
    # No permission (AccessDenied) or an endpoint without this API (the local cloud lacks it).
    except (ClientError, BotoCoreError, NotImplementedError):
        return None


def _ping_status(ssm: Any, instance_id: str) -> str | None:
    """The instance's SSM agent status; "" when it has never registered; None when SSM cannot
    be asked."""
    statuses = _ping_statuses(ssm, Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
    return None if statuses is None else statuses.get(instance_id, "")


def _fresh_lab_bastion(lab: Any, instance_id: str) -> bool:
    """Whether *instance_id* is the lab's bastion, with the lab's instance profile, launched
    or started a short while ago: its SSM agent may still be on its way."""
    found = _instances(lab.client("ec2"), [{"Name": "instance-id", "Values": [instance_id]}])
    if not found:
        return False
    instance = found[0]
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    ours = tags.get("Name") == lab.names.bastion and all(
        tags.get(key) == value for key, value in lab.tags.items())
    profile = instance.get("IamInstanceProfile", {}).get("Arn", "")
    if not ours:
        return False
    if not profile.endswith("/" + lab.names.bastion_profile):
        print(f"{instance_id} has no instance profile of the lab, so Systems Manager cannot "
              "reach it: run launch_bastion(lab) again to give it one.")
        return False
    launched = instance.get("LaunchTime") or _NEVER
    return dt.datetime.now(dt.timezone.utc) - launched <= _FRESH


def _wait_until_online(lab: Any, ssm: Any, instance_id: str, timeout: float) -> bool:
    """Wait up to *timeout* s for the SSM agent of *instance_id* to be Online; True if it is."""
    print(f"⏳ Waiting for the SSM agent of {instance_id} to register (a new instance takes a "
          f"minute or two; at most {_duration(timeout)}) ...")
    started = _clock()
    said_at = started
    while True:
        status = _ping_status(ssm, instance_id)
        elapsed = _clock() - started
        if status == "Online":
            print(f"{instance_id} is Online in Systems Manager after {_duration(elapsed)}.")
            return True
        if status is None or elapsed >= timeout:
            print(f"{instance_id} is still not Online in Systems Manager after "
                  f"{_duration(elapsed)}. The agent needs outbound HTTPS to Systems Manager: a "
                  "subnet without a route to the internet needs a NAT gateway or VPC endpoints. "
                  "Fleet Manager in the Systems Manager console lists the instances it sees.")
            return False
        if _clock() - said_at >= _SAY_EVERY:
            print(f"⏳ ... {instance_id}: {status or 'not registered yet'} "
                  f"({_duration(elapsed)})")
            said_at = _clock()
        _sleep(_POLL)


def _duration(seconds: float) -> str:
    """*seconds* as "45 s" or "2 min 05 s"."""
    seconds = int(round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def _managed_ids(ssm: Any) -> set[str] | None:
    """Ids of instances whose SSM agent is online; None if SSM cannot be asked."""
    statuses = _ping_statuses(ssm)
    return None if statuses is None else {i for i, status in statuses.items()
                                          if status == "Online"}


def _name(instance: dict) -> str:
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == "Name"), "")


def _launch_key(instance: dict) -> tuple:
    return (instance.get("LaunchTime") or _NEVER, instance["InstanceId"])


def _oldest(instances: list[dict]) -> dict:
    return min(instances, key=_launch_key)
