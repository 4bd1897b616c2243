"""The pipeline as infrastructure as code: a CloudFormation template read from what the
learner built by hand (``template.py`` pure, ``snapshot.py`` the reading, ``export.py``
the two together, ``lint.py`` cfn-lint, ``command.py`` ``labkit export cloudformation``)."""
