"""The EC2 instance whose CPU the alarm watches: the source lab's "bastion".

* :mod:`.ec2` finds, launches and reaches the instance (both targets; on aws its IAM role and
  instance profile, SSM Run Command and the wait for a command's end).
* :mod:`.load` is the built-in CPU load, the stand-in for ``stress`` where it is not installed.
* :mod:`.metric_agent` publishes the bastion's ``CPUUtilization`` on the local target.
"""

from .ec2 import (AMI_PARAMETER, FINAL_STATUSES, INSTANCE_TYPE, SOURCE_NAME, SSM_POLICY_ARN,
                  choose_bastion, ensure_bastion_profile, ensure_local_bastion, find_instances,
                  launch_bastion, run_stress_over_ssm, stress_script, wait_for_command)
from .cpu_load import stress_command
from .machine import LocalBastion

__all__ = ["AMI_PARAMETER", "FINAL_STATUSES", "INSTANCE_TYPE", "SOURCE_NAME", "SSM_POLICY_ARN",
           "choose_bastion", "ensure_bastion_profile", "ensure_local_bastion", "find_instances",
           "launch_bastion", "run_stress_over_ssm", "stress_script", "wait_for_command",
           "stress_command", "LocalBastion"]
