"""Notebook 09: the learner's pipeline as a CloudFormation template, deployed as a stack."""
