"""The local cloud process: start, find, report, stop, and recover from what goes wrong.

Each test gets its own state folder (LABKIT_HOME), so these run beside the session's cloud.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import psutil
import pytest
import requests

from labkit.local import cloud
from labkit.local import state as st

pytestmark = pytest.mark.integration


def labkit_cli(*args, home):
    env = dict(os.environ, LABKIT_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "labkit", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_up_status_down_through_the_cli(home):
    started = labkit_cli("local", "up", home=home)
    assert started.returncode == 0, started.stderr
    assert "Started local cloud" in started.stdout

    again = labkit_cli("local", "up", home=home)
    assert "Already running" in again.stdout

    status = json.loads(labkit_cli("local", "status", "--json", home=home).stdout)
    state = st.read_state(home)
    assert status["running"] is True
    assert status["pid"] == state.pid
    assert status["endpoint_url"] == f"http://127.0.0.1:{state.aws_port}"
    assert status["slack_webhook_url"].startswith(f"https://127.0.0.1:{state.slack_https_port}/services/T")
    assert status["uptime_seconds"] >= 0

    human = labkit_cli("local", "status", home=home)
    assert str(state.pid) in human.stdout and "uptime" in human.stdout

    stopped = labkit_cli("local", "down", home=home)
    assert "Stopped the local cloud" in stopped.stdout
    assert not psutil.pid_exists(state.pid) or not st.process_is_local_cloud(state.pid)
    assert st.read_state(home) is None
    assert labkit_cli("local", "status", home=home).returncode == 1


def test_it_binds_loopback_only_and_serves_aws_and_slack(home):
    state, started, _ = cloud.up(home)
    assert started
    listening = {c.laddr for c in psutil.Process(state.pid).net_connections(kind="tcp")
                 if c.status == psutil.CONN_LISTEN}
    assert {addr.ip for addr in listening} == {"127.0.0.1"}
    assert {addr.port for addr in listening} == {state.aws_port, state.slack_http_port,
                                                 state.slack_https_port}

    sns = boto3.client("sns", endpoint_url=state.endpoint_url, region_name="ap-northeast-2",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    sns.create_topic(Name="held")
    holds = cloud.fetch_status(state)["holds"]
    assert holds["sns topics"] == 1

    # HTTPS with the locally made CA: trusted through the bundle, refused without it.
    url = state.slack_https_url + "/api/messages"
    assert requests.get(url, verify=state.ca_bundle, timeout=5).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, timeout=5, verify=True)


def test_taken_ports_fall_back_to_free_ones(home, tmp_path_factory):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    try:
        env = dict(os.environ, LABKIT_HOME=str(home))
        proc = subprocess.Popen([sys.executable, "-m", "labkit.local.server", "--home", str(home),
                                 "--aws-port", str(taken), "--slack-port", "0",
                                 "--slack-tls-port", "0"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            for _ in range(600):
                state = st.read_state(home)
                if state:
                    break
                assert proc.poll() is None, "the server exited instead of taking a free port"
                time.sleep(0.1)
            assert state is not None and state.aws_port != taken
            with urllib.request.urlopen(state.endpoint_url + "/labkit/status") as response:
                assert json.loads(response.read())["aws_port"] == state.aws_port
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        blocker.close()


def test_two_homes_run_isolated_clouds_side_by_side(home, tmp_path_factory):
    other = tmp_path_factory.mktemp("other-home")
    try:
        a, _, _ = cloud.up(home)
        b, _, _ = cloud.up(other)
        assert a.pid != b.pid and a.aws_port != b.aws_port
        make = lambda s: boto3.client("sns", endpoint_url=s.endpoint_url, region_name="us-east-1",
                                      aws_access_key_id="testing", aws_secret_access_key="testing")
        make(a).create_topic(Name="only-in-a")
        assert make(b).list_topics()["Topics"] == []
    finally:
        cloud.down(other)


def test_a_stale_state_file_is_cleaned_up_and_explained(home):
    state, _, _ = cloud.up(home)
    os.kill(state.pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(state.pid)], timeout=10)
    assert st.read_state(home) is not None  # a killed server leaves its file behind

    found = cloud.find(home)
    assert found.state is None
    assert "stale state file" in found.note and str(state.pid) in found.note
    assert st.read_state(home) is None

    fresh, started, _ = cloud.up(home)
    assert started and fresh.cloud_id != state.cloud_id


def test_a_dead_cloud_is_explained_in_one_sentence(home):
    state, _, _ = cloud.up(home)
    cloud.down(home)
    st.write_state(home, state)  # as if the file were left behind by a crash
    result = labkit_cli("local", "status", home=home)
    assert result.returncode == 1
    assert "stale state file" in result.stdout
    assert "labkit local up" in result.stdout


def test_the_log_never_holds_a_webhook_secret(home):
    state, _, _ = cloud.up(home)
    status = json.loads(labkit_cli("local", "status", "--json", home=home).stdout)
    url = status["slack_webhook_url"]
    assert requests.post(url, json={"text": "hi"}, verify=state.ca_bundle, timeout=5).text == "ok"
    secret = url.rsplit("/", 1)[-1]
    cloud.down(home)
    log = (home / st.LOG_FILE).read_text()
    assert "/services/" in log  # the request was logged...
    assert secret not in log    # ...with its secret masked


def test_two_processes_starting_the_cloud_at_once_share_one(home):
    """The one that loses the lock waits for the winner's cloud instead of failing."""
    import concurrent.futures

    code = ("import json, sys; from pathlib import Path; from labkit.local import cloud; "
            "state, started, _ = cloud.up(Path(sys.argv[1])); print(json.dumps([state.pid, started]))")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: subprocess.run([sys.executable, "-c", code, str(home)],
                                                      capture_output=True, text=True), range(2)))
    assert [r.returncode for r in runs] == [0, 0], [r.stderr[-500:] for r in runs]
    answers = [json.loads(r.stdout) for r in runs]
    assert answers[0][0] == answers[1][0]  # the same cloud
    assert sorted(started for _, started in answers) == [False, True]
