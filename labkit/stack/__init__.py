"""Notebook 09: the learner's pipeline as infrastructure as code.

``snapshot.py`` reads what the learner built by hand, ``template.py`` (pure) writes it as a
CloudFormation template, ``export.py`` puts the two together (``lab.export_template()``),
``lint.py`` runs cfn-lint, ``deploy.py`` deploys the template as a stack beside the hand-made
pipeline and deletes it, ``command.py`` is ``labkit export cloudformation``.
"""
