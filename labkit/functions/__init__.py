"""Source files of the Lambda functions the lab deploys.

Each module here is self-contained (standard library and boto3 only) because it is zipped and
uploaded on its own; none of them imports labkit.
"""
