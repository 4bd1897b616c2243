"""Notebook 07 on target aws removes the launched bastion with its IAM role and instance
profile, and the inventory sees them while they are there.

Notebook 07's code cells run here as they are, against moto in-process (only the parameters
cell's values change), so the test follows the notebook.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from labkit.bastion import SSM_POLICY_ARN, launch_bastion
from labkit.inventory import inventory
from labkit.names import names_for, standard_tags, tag_list

from .test_aws_target import REGION, aws, managed_policies, start_aws  # noqa: F401

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "07_cleanup.ipynb"


def run_notebook_07(capsys, student: str = "kim") -> str:
    """Every code cell of notebook 07 on target aws, for *student*; what it printed."""
    cells = [c for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
             if c["cell_type"] == "code"]
    namespace: dict = {}
    for cell in cells:
        exec(compile("".join(cell["source"]), f"07:{cell['id']}", "exec"), namespace)
        if "parameters" in cell["metadata"].get("tags", []):
            namespace.update(target="aws", region=REGION, student=student)
    return capsys.readouterr().out


def iam_names() -> tuple[list[str], list[str]]:
    iam = boto3.client("iam")
    return ([r["RoleName"] for r in iam.list_roles()["Roles"]],
            [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]])


def test_notebook_07_removes_the_bastion_its_profile_and_role_and_runs_again(managed_policies,
                                                                             capsys):
    lab = start_aws(student="kim")
    instance_id = launch_bastion(lab)
    kinds = {(x.kind, x.name) for x in inventory(lab)}
    assert {("EC2 instance", instance_id), ("IAM role", "kim-bastion-ssm-role"),
            ("IAM instance profile", "kim-bastion-ssm-profile")} <= kinds
    capsys.readouterr()

    said = run_notebook_07(capsys)
    assert f"terminated kim-bastion: {instance_id}" in said
    assert "deleted instance profile kim-bastion-ssm-profile" in said
    assert "deleted role kim-bastion-ssm-role" in said
    assert said.index("terminated kim-bastion") < said.index("deleted instance profile") \
        < said.index("deleted role kim-bastion-ssm-role")
    assert iam_names() == ([], [])
    state = boto3.client("ec2", region_name=REGION).describe_instances(
        InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "terminated"
    # The AWS managed policy was only detached: it stays in AWS.
    assert boto3.client("iam").get_policy(PolicyArn=SSM_POLICY_ARN)["Policy"]

    again = run_notebook_07(capsys)  # its check cell passes again: nothing left
    assert "instance profile kim-bastion-ssm-profile: already gone" in again
    assert "role kim-bastion-ssm-role: already gone" in again


def test_notebook_07_leaves_a_profile_and_role_of_the_same_names_without_the_lab_tags(
        managed_policies, capsys):
    names = names_for("kim-")
    iam = boto3.client("iam")
    iam.create_role(RoleName=names.bastion_role, AssumeRolePolicyDocument="{}",
                    Tags=[{"Key": "Team", "Value": "ops"}])
    iam.attach_role_policy(RoleName=names.bastion_role, PolicyArn=SSM_POLICY_ARN)
    iam.create_instance_profile(InstanceProfileName=names.bastion_profile)
    iam.add_role_to_instance_profile(InstanceProfileName=names.bastion_profile,
                                     RoleName=names.bastion_role)
    # Another learner's, tagged for them, under their own names.
    other = names_for("lee-")
    iam.create_instance_profile(InstanceProfileName=other.bastion_profile,
                                Tags=tag_list(standard_tags("lee")))

    said = run_notebook_07(capsys)
    assert "instance profile kim-bastion-ssm-profile: not made by the lab" in said
    assert "role kim-bastion-ssm-role: not made by the lab" in said
    roles, profiles = iam_names()
    assert roles == ["kim-bastion-ssm-role"]
    assert sorted(profiles) == ["kim-bastion-ssm-profile", "lee-bastion-ssm-profile"]
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(
        RoleName="kim-bastion-ssm-role")["AttachedPolicies"]] == [SSM_POLICY_ARN]


def test_the_inventory_lists_only_the_learners_instance_profiles(aws):
    lab = start_aws(student="kim")
    iam = boto3.client("iam")
    iam.create_role(RoleName="kim-bastion-ssm-role", AssumeRolePolicyDocument="{}",
                    Tags=lab.tag_list)
    iam.create_instance_profile(InstanceProfileName="kim-bastion-ssm-profile", Tags=lab.tag_list)
    iam.add_role_to_instance_profile(InstanceProfileName="kim-bastion-ssm-profile",
                                     RoleName="kim-bastion-ssm-role")
    iam.create_instance_profile(InstanceProfileName="lee-bastion-ssm-profile",
                                Tags=tag_list(standard_tags("lee")))
    iam.create_instance_profile(InstanceProfileName="web-servers")
    profiles = [x for x in inventory(lab) if x.kind == "IAM instance profile"]
    assert [(x.name, x.note) for x in profiles] == [
        ("kim-bastion-ssm-profile", "holds kim-bastion-ssm-role")]
    assert profiles[0].arn.endswith(":instance-profile/kim-bastion-ssm-profile")
    assert not profiles[0].expected


@pytest.mark.parametrize("lang, label", [("en", "IAM instance profile"),
                                         ("ko", "IAM 인스턴스 프로파일")])
def test_the_instance_profile_kind_is_named_in_each_language(lang, label):
    from labkit import i18n
    from labkit.inventory import describe_arn, kind_label

    kind, name = describe_arn("arn:aws:iam::123456789012:instance-profile/kim-bastion-ssm-profile")
    assert (kind, name) == ("IAM instance profile", "kim-bastion-ssm-profile")
    i18n.set_language(lang)
    try:
        assert kind_label(kind) == label
    finally:
        i18n.set_language("en")
