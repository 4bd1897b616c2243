"""The local CloudWatch: alarms that evaluate their metric and act, as CloudWatch's do."""
