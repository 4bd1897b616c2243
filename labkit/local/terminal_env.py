"""What a terminal needs to run the source lab's own commands against the local cloud.

The source lab tests its webhook with Slack's sample ``curl`` command and makes its KMS key with
``aws kms ...``. ``labkit local env`` prints the variables that make those commands, unchanged,
reach the local cloud and the local Slack, as a script for the shell to evaluate::

    eval "$(labkit local env)"                                          # bash, zsh
    labkit local env --shell powershell | Out-String | Invoke-Expression  # Windows PowerShell
    for /f "delims=" %i in ('labkit local env --shell cmd') do %i         # Windows cmd

:func:`cloud_env` and :func:`terminal_env` are the pure core (a running cloud's state -> the
variables; a notebook's kernel gets the first); the renderers turn the variables into one
shell's script; :func:`register_cli` is the thin edge.

``SLACK_WEBHOOK_URL`` is printed in clear: the shell must read it. It is the local Slack's URL,
which works on this machine only, and it has the shape :mod:`labkit.masking` hides on any host, so
the local cloud's log and labkit's outputs show it masked; the script's comment asks people not to
paste it anywhere all the same (a habit for the real one).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any, Callable, Mapping

from ..aws import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from ..config import LabConfig
from ..defaults import DEFAULT_WEBHOOK_ENV
from ..i18n import set_language, t
from ..parameters import DEFAULTS, add_flag
from . import cloud
from .slack import api as slack_api
from .state import CloudState


def cloud_env(state: CloudState, region: str) -> dict[str, str]:
    """The variables that aim the AWS CLI, boto3, curl and Python at the local cloud *state*.

    *region* is the lab's region. A notebook's kernel gets these when the lab starts on the local
    target, so that its ``!aws ...`` cells and plain ``boto3.client(...)`` calls reach it too.
    """
    return {
        # botocore >= 1.31 (boto3 and the AWS CLI v1 alike) sends every service here.
        "AWS_ENDPOINT_URL": state.endpoint_url,
        # The dummy keys labkit's own clients sign with on the local target.
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
        # The CLI and boto3 read the first; other SDKs the second.
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        # The public CAs plus the local one: https to the local Slack works, nothing else breaks.
        "AWS_CA_BUNDLE": state.ca_bundle,
        "CURL_CA_BUNDLE": state.ca_bundle,
        "REQUESTS_CA_BUNDLE": state.ca_bundle,
        "SSL_CERT_FILE": state.ca_bundle,
    }


def terminal_env(state: CloudState, region: str, webhook_url: str) -> dict[str, str]:
    """:func:`cloud_env`, and the local Slack's *webhook_url* for the lab's channel in
    ``SLACK_WEBHOOK_URL``, where the source lab's ``curl`` command reads it."""
    return {**cloud_env(state, region), DEFAULT_WEBHOOK_ENV: webhook_url}


# -- one renderer per shell: (variables, comment lines) -> a script ------------------------------

def render_posix(variables: Mapping[str, str], comments: list[str]) -> str:
    """bash and zsh: ``export NAME='value'``, quoted so that no value is ever run."""
    lines = [f"# {line}" for line in comments]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
    return "\n".join(lines) + "\n"


def render_powershell(variables: Mapping[str, str], comments: list[str]) -> str:
    """PowerShell: ``$Env:NAME = 'value'``; in single quotes only ``'`` is special (doubled)."""
    lines = [f"# {line}" for line in comments]
    lines += [f"$Env:{name} = '" + value.replace("'", "''") + "'"
              for name, value in variables.items()]
    return "\n".join(lines) + "\n"


def render_cmd(variables: Mapping[str, str], comments: list[str]) -> str:
    """Windows cmd: ``set "NAME=value"``. cmd has no escape for ``"`` and ``%`` inside that form,
    so a value holding one (or a line break) is refused rather than run half-quoted."""
    for name, value in variables.items():
        if any(char in value for char in '"%\r\n'):
            raise ValueError(f"{name} holds a character cmd cannot quote: use --shell powershell")
    lines = [f"REM {line}" for line in comments]
    lines += [f'set "{name}={value}"' for name, value in variables.items()]
    return "\n".join(lines) + "\n"  # Python writes the \r of Windows line ends itself


SHELLS: dict[str, Callable[[Mapping[str, str], list[str]], str]] = {
    "posix": render_posix,
    "powershell": render_powershell,
    "cmd": render_cmd,
}


# -- the command --------------------------------------------------------------------------------

def local_webhook_url(state: CloudState, channel: str) -> str:
    """The local Slack's webhook URL for *channel* (made on first use, the same ever after)."""
    answer = slack_api.call(state.slack_http_url, "POST", slack_api.WEBHOOKS_PATH,
                            {"channel": channel})
    return state.slack_https_url + answer["path"]


def env_command(args: argparse.Namespace) -> int:
    """Carry out ``labkit local env``: start the local cloud if needed, print the script."""
    lang = set_language(args.lang or DEFAULTS["lang"])
    # The same checks (and messages) as the notebooks' parameters.
    config = LabConfig(target="local", region=args.region or DEFAULTS["region"],
                       slack_channel=args.slack_channel or DEFAULTS["slack_channel"], lang=lang)
    state, started, note = cloud.up()
    # Anything for people goes to stderr: stdout is the script the shell evaluates.
    if note:
        print(note, file=sys.stderr)
    if started:
        print(t("terminal.started", cloud_id=state.cloud_id), file=sys.stderr)
    variables = terminal_env(state, config.region, local_webhook_url(state, config.slack_channel))
    comments = [t("terminal.comment.what", region=config.region, channel=config.slack_channel),
                t("terminal.comment.secret", name=DEFAULT_WEBHOOK_ENV)]
    sys.stdout.write(SHELLS[args.shell](variables, comments))
    return 0


_EPILOG = """\
examples:
  bash, zsh:           eval "$(labkit local env)"
  Windows PowerShell:  labkit local env --shell powershell | Out-String | Invoke-Expression
  Windows cmd:         for /f "delims=" %i in ('labkit local env --shell cmd') do %i

Then the source lab's commands run unchanged in that terminal, e.g.
  curl -X POST -H 'Content-type: application/json' --data '{"text":"Hello, World!"}' $SLACK_WEBHOOK_URL
  aws kms create-key --region ap-northeast-2

Only that terminal is changed; open a new one to work with AWS again. SLACK_WEBHOOK_URL is the
local Slack's webhook: it works on this machine only, but treat it as you would a real one
(keep it out of chats, issues and committed files)."""


def register_cli(local_subparsers: Any) -> argparse.ArgumentParser:
    """Add ``labkit local env`` to the ``labkit local`` sub-commands."""
    parser = local_subparsers.add_parser(
        "env", help="the variables that aim curl, the AWS CLI and Python at the local cloud",
        description="Print, as a script for your shell, the variables with which the source "
                    "lab's `curl` and `aws kms` commands reach the local cloud and the local "
                    "Slack: AWS_ENDPOINT_URL, dummy credentials, the region, the local CA "
                    "bundle (curl, Python, the AWS CLI) and SLACK_WEBHOOK_URL. Starts the local "
                    "cloud unless it runs already.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shell", choices=tuple(SHELLS), default="posix",
                        help="the script's language: posix (bash, zsh; the default), "
                             "powershell or cmd")
    add_flag(parser, "region", help=f"AWS_DEFAULT_REGION and AWS_REGION "
                                    f"(default: {DEFAULTS['region']})")
    add_flag(parser, "slack_channel", help="the channel whose webhook SLACK_WEBHOOK_URL holds "
                                          f"(default: {DEFAULTS['slack_channel']})")
    add_flag(parser, "lang", help="the language of the comment lines: "
                                  f"{DEFAULTS['lang']} (default) or ko")
    parser.set_defaults(func=env_command)
    return parser
