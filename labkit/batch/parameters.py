"""The notebook parameters of a batch run: from flags and a YAML file, checked, per notebook."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ..errors import LabError
from ..masking import find_webhook_urls


#: The parameters the notebooks share (see the cell tagged ``parameters`` in each notebook).
PARAMETER_NAMES = ("target", "region", "student", "slack_channel", "webhook_env",
                   "expected_account_id", "bastion_instance_id", "bastion_launch",
                   "bastion_vcpus", "bastion_cpu", "alarm_quick_test", "alarm_period", "lang")


def check_parameters(parameters: dict[str, Any]) -> None:
    """Refuse a parameter value that holds a Slack webhook URL.

    papermill copies parameters into every executed notebook, so a URL passed this way would
    be written to disk; the URL belongs in the environment variable named by ``webhook_env``.
    """
    for name, value in parameters.items():
        if find_webhook_urls(str(value)):
            raise LabError(
                f"The value of {name!r} looks like a Slack webhook URL; it must not be a "
                "parameter (papermill copies parameters into every executed notebook).",
                "Put the URL in an environment variable (export SLACK_WEBHOOK_URL=...) and "
                "pass that variable's NAME with --webhook-env.")


def load_parameter_file(path: Path) -> dict[str, Any]:
    """Read a YAML parameter file: a mapping of the parameters in :data:`PARAMETER_NAMES`.

    Keys may be written ``slack_channel`` or ``slack-channel``.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabError(f"Cannot read the parameter file {path}: {exc.strerror}.",
                       "Check the path given to --params.") from exc
    except yaml.YAMLError as exc:
        raise LabError(f"{path} is not valid YAML: {exc}",
                       "Write one 'name: value' per line, e.g. 'target: aws'.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LabError(f"{path} must hold a mapping such as 'target: aws', not a "
                       f"{type(data).__name__}.", "Write one 'name: value' per line.")
    parameters = {str(key).replace("-", "_"): value for key, value in data.items()}
    unknown = sorted(set(parameters) - set(PARAMETER_NAMES))
    if unknown:
        raise LabError(f"Unknown parameter(s) in {path}: {', '.join(unknown)}.",
                       f"Known parameters: {', '.join(PARAMETER_NAMES)}.")
    return parameters


def parameters_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The parameters the user set: the ``--params`` file, overridden by explicit flags.

    Parameters nobody set are left out, so each notebook's own defaults apply.
    """
    parameters = load_parameter_file(Path(args.params)) if args.params else {}
    for name in PARAMETER_NAMES:
        value = getattr(args, name, None)
        if value is not None:
            parameters[name] = value
    check_parameters(parameters)
    return parameters


def notebook_parameters(path: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """The subset of *parameters* that *path*'s parameters cell defines.

    papermill warns about (and still injects) unknown parameters; a notebook that does not
    use, say, ``slack_channel`` simply does not get it.
    """
    if not parameters:
        return {}
    import papermill

    try:
        defined = papermill.inspect_notebook(str(path))
    except ValueError:
        # No kernelspec in the notebook: papermill cannot tell its parameters. Pass them all
        # rather than silently running with defaults the user meant to override.
        return dict(parameters)
    return {name: value for name, value in parameters.items() if name in defined}


def add_parameter_flags(parser: argparse.ArgumentParser) -> None:
    """The notebook-parameter flags shared by ``labkit run`` and ``labkit catch-up``."""
    params = parser.add_argument_group("notebook parameters (default: each notebook's own)")
    # Defaults are None so that only what the user set is passed to the notebooks.
    params.add_argument("--target", choices=("local", "aws"),
                        help="where the lab runs: this machine or a real AWS account")
    params.add_argument("--region", help="AWS region code (notebooks default to ap-northeast-2)")
    params.add_argument("--student", help="your name, used in AWS resource names (e.g. kim)")
    params.add_argument("--slack-channel", dest="slack_channel", metavar="CHANNEL",
                        help="Slack channel to post to (notebooks default to 'project')")
    params.add_argument("--webhook-env", dest="webhook_env", metavar="VAR",
                        help="NAME of the environment variable holding the Slack webhook URL "
                             "(notebooks default to SLACK_WEBHOOK_URL)")
    params.add_argument("--expected-account-id", dest="expected_account_id", metavar="ID",
                        help="aws: refuse to run in any other account than this 12-digit id")
    params.add_argument("--bastion-cpu", dest="bastion_cpu", choices=("measured", "scripted"),
                        help="local: 'measured' runs a real load on the bastion and measures it "
                             "(notebook default); 'scripted' publishes the same figures on any "
                             "computer, in the least time")
    params.add_argument("--bastion-vcpus", dest="bastion_vcpus", type=int, metavar="N",
                        help="local: the bastion's vCPUs (notebook default 2, as a t3.micro)")
    params.add_argument("--alarm-quick-test", dest="alarm_quick_test", action="store_const",
                        const=True, help="aws: set the alarm to ALARM by hand instead of "
                                         "waiting for the load (a test of its actions)")
    params.add_argument("--lang", choices=("en", "ko"),
                        help="language of labkit's messages in the notebooks: en (English) or "
                             "ko (Korean)")
    params.add_argument("--params", metavar="FILE.yaml",
                        help="YAML file with parameters; flags override its values")
