"""The local SNS: what moto's SNS needs to deliver as AWS does."""
