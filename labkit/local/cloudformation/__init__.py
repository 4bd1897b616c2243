"""CloudFormation on the local cloud, as AWS runs a stack: every resource of the lab's template
really made (resources.py), a stack that fails rolls back, and a deleted stack leaves nothing
(stacks.py)."""
