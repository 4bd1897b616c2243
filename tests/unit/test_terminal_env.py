"""`labkit local env`: the variables a terminal needs for the local cloud, and each shell's script."""

from __future__ import annotations

import subprocess

import pytest

from labkit.cli import build_parser
from labkit.local.state import CloudState
from labkit.local.terminal_env import (render_cmd, render_posix, render_powershell,
                                       terminal_env)

STATE = CloudState(pid=1, cloud_id="c0ffee", started_at=0.0, host="127.0.0.1", aws_port=5001,
                   slack_http_port=5002, slack_https_port=5003, ca_cert="/home/me/.labkit/ca/ca.pem",
                   ca_bundle="/home/me/.labkit/ca/bundle.pem")
HOOK = "https://127.0.0.1:5003/services/T0LOCAL01/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def test_the_variables_aim_every_client_at_the_local_cloud():
    assert terminal_env(STATE, "us-east-1", HOOK) == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5001",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CA_BUNDLE": "/home/me/.labkit/ca/bundle.pem",
        "CURL_CA_BUNDLE": "/home/me/.labkit/ca/bundle.pem",
        "REQUESTS_CA_BUNDLE": "/home/me/.labkit/ca/bundle.pem",
        "SSL_CERT_FILE": "/home/me/.labkit/ca/bundle.pem",
        "SLACK_WEBHOOK_URL": HOOK,
    }


# Values a shell would otherwise split, expand or run.
AWKWARD = [
    "plain",
    "/path with spaces/bundle.pem",
    "it's",
    'say "hi"',
    "$HOME and ${HOME} and $(echo ran) and `echo ran`",
    "a; echo ran && echo ran | cat",
    "*.pem ~ ?",
    "back\\slash",
    "",
]


@pytest.mark.parametrize("value", AWKWARD)
def test_bash_sets_each_value_exactly_as_given(value, tmp_path):
    script = render_posix({"LABKIT_TEST_VALUE": value}, ["a comment; $(echo ran)"])
    done = subprocess.run(["bash", "-c", script + 'printf %s "$LABKIT_TEST_VALUE"'],
                          capture_output=True, text=True, cwd=tmp_path, check=True)
    assert done.stdout == value
    assert done.stderr == ""


@pytest.mark.parametrize(("value", "line"), [
    ("plain", "$Env:NAME = 'plain'"),
    ("it's", "$Env:NAME = 'it''s'"),
    ("$HOME `n", "$Env:NAME = '$HOME `n'"),  # nothing expands inside single quotes
    ('say "hi"', "$Env:NAME = 'say \"hi\"'"),
    ("C:\\Users\\kim\\.labkit\\ca\\bundle.pem", "$Env:NAME = 'C:\\Users\\kim\\.labkit\\ca\\bundle.pem'"),
])
def test_powershell_single_quotes_each_value(value, line):
    assert render_powershell({"NAME": value}, ["note"]) == f"# note\n{line}\n"


@pytest.mark.parametrize(("value", "line"), [
    ("plain", 'set "NAME=plain"'),
    ("C:\\Program Files\\x & y", 'set "NAME=C:\\Program Files\\x & y"'),
])
def test_cmd_sets_each_value_in_quotes(value, line):
    assert render_cmd({"NAME": value}, ["note"]) == f"REM note\n{line}\n"


@pytest.mark.parametrize("value", ['say "hi"', "100%", "two\nlines"])
def test_cmd_refuses_what_it_cannot_quote(value):
    with pytest.raises(ValueError, match="NAME"):
        render_cmd({"NAME": value}, [])


def test_help_shows_how_to_use_it_in_bash_and_powershell():
    local = build_parser()._subparsers._group_actions[0].choices["local"]
    env = local._subparsers._group_actions[0].choices["env"]
    text = env.format_help()
    assert 'eval "$(labkit local env)"' in text
    assert "labkit local env --shell powershell | Out-String | Invoke-Expression" in text


def test_its_options_and_defaults():
    args = build_parser().parse_args(["local", "env"])
    assert (args.shell, args.region, args.slack_channel, args.lang) == ("posix", None, None, None)
    args = build_parser().parse_args(["local", "env", "--shell", "powershell", "--region",
                                      "us-east-1", "--slack-channel", "kim", "--lang", "ko"])
    assert (args.shell, args.region, args.slack_channel, args.lang) == (
        "powershell", "us-east-1", "kim", "ko")


def test_a_notebook_kernel_gets_the_same_variables_but_not_the_webhook(monkeypatch):
    import os

    import labkit.lab

    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # someone's own setting, to be given back
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T00000000/"
                                            "B00000000/XXXXXXXXXXXXXXXXXXXXXXXX")
    before = dict(os.environ)
    try:
        labkit.lab._point_kernel_at(STATE, "us-east-1")
        wanted = terminal_env(STATE, "us-east-1", HOOK)
        del wanted["SLACK_WEBHOOK_URL"]  # the notebook sets it itself, from lab.webhook()
        assert {key: os.environ.get(key) for key in wanted} == wanted
        assert os.environ["SLACK_WEBHOOK_URL"] == before["SLACK_WEBHOOK_URL"]
    finally:
        labkit.lab._point_kernel_at(None, "")  # the switch to aws gives everything back
    assert dict(os.environ) == before
