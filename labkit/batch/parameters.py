"""The notebook parameters of a batch run: from flags and a YAML file, checked, per notebook."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ..defaults import DEFAULT_WEBHOOK_ENV
from ..errors import LabError
from ..masking import find_webhook_urls
from ..parameters import NAMES, PARAMETERS, add_flag, check_known

#: The notebook parameters a batch run takes (declared in :mod:`labkit.parameters`).
PARAMETER_NAMES = NAMES


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
                f"Put the URL in an environment variable (export {DEFAULT_WEBHOOK_ENV}=...) and "
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
    check_known(sorted(parameters), str(path))
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
    for parameter in PARAMETERS:
        if parameter.flag:
            add_flag(params, parameter.name)
    params.add_argument("--params", metavar="FILE.yaml",
                        help="YAML file with parameters; flags override its values")
