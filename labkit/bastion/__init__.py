"""The EC2 instance whose CPU the alarm watches: the source lab's "bastion".

* :mod:`.ec2` finds, launches and reaches the instance (both targets; SSM Run Command on aws).
* :mod:`.load` is the built-in CPU load, the stand-in for ``stress`` where it is not installed.
* :mod:`.metric_agent` publishes the bastion's ``CPUUtilization`` on the local target.
"""

from .ec2 import (AMI_PARAMETER, INSTANCE_TYPE, SOURCE_NAME, choose_bastion,
                  ensure_local_bastion, find_instances, launch_bastion, run_stress_over_ssm,
                  stress_script)

__all__ = ["AMI_PARAMETER", "INSTANCE_TYPE", "SOURCE_NAME", "choose_bastion",
           "ensure_local_bastion", "find_instances", "launch_bastion", "run_stress_over_ssm",
           "stress_script"]
