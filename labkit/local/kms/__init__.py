"""The local KMS: moto's KMS made to answer as AWS does where the lesson depends on it."""
