"""The local IAM: policies evaluated for calls a function makes with its role's credentials."""
