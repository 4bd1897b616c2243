"""Figures for the local Lambda runtime: cold and warm invokes, SNS to Slack, memory.

    .venv/bin/python bench/bench_runtime.py [--warm N] [--sns N] [--cold N]

Runs in its own temporary LABKIT_HOME (with the local Slack's rate limit off, so the SNS
figure measures the pipeline, not Slack's one-message-a-second rule). Prints a table; asserts
nothing beyond "it worked" (machines are noisy: compare figures, not thresholds).

* cold invoke: a synchronous Invoke that has to start an execution environment (a code
  change before each one forces it), client to answer;
* warm invoke: the same with an environment already running;
* SNS Publish -> Slack: from calling Publish to the local Slack holding the message, through
  the lab's real notifier function (labkit/functions/slack_notifier.py);
* memory: resident memory of the local cloud process and of its whole process tree with one
  function warm.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
import psutil
import requests

from labkit.local import cloud

ROOT = Path(__file__).resolve().parents[1]
NOTIFIER = ROOT / "labkit" / "functions" / "slack_notifier.py"
REGION = "ap-northeast-2"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": "lambda.amazonaws.com"}}]}
ECHO = "def handler(event, context):\n    return {'n': event.get('n'), 'version': %d}\n"
ALARM = json.dumps({
    "AlarmName": "mission-cpu-alarm", "NewStateValue": "ALARM", "OldStateValue": "OK",
    "NewStateReason": "Threshold Crossed: 1 datapoint (99.0) was >= 50.0.",
    "StateChangeTime": "2024-05-14T10:00:00.000+0000",
    "AlarmArn": f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:mission-cpu-alarm",
    "Trigger": {"MetricName": "CPUUtilization", "Namespace": "AWS/EC2", "Statistic": "AVERAGE",
                "Period": 60, "EvaluationPeriods": 1, "Threshold": 50.0,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Dimensions": []},
})


def zipped(source: str, filename: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, source)
    return buffer.getvalue()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def row(label: str, values: list[float], unit: str = "ms") -> str:
    if len(values) == 1:
        return f"{label:<38} {values[0]:>9.1f} {unit}"
    return (f"{label:<38} p50 {percentile(values, .5):>8.1f} {unit}   "
            f"p95 {percentile(values, .95):>8.1f} {unit}   (n={len(values)})")


def tree_rss_mb(pid: int) -> tuple[float, float, int]:
    """RSS of the process, of the process and all its children, and the number of children."""
    process = psutil.Process(pid)
    children = process.children(recursive=True)
    own = process.memory_info().rss
    total = own + sum(child.memory_info().rss for child in children)
    return own / 2**20, total / 2**20, len(children)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=5, help="cold invokes (default 5)")
    parser.add_argument("--warm", type=int, default=200, help="warm invokes (default 200)")
    parser.add_argument("--sns", type=int, default=30, help="SNS publishes (default 30)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        state, _, _ = cloud.up(home, rate_limit=False)
        try:
            session = boto3.session.Session(aws_access_key_id="testing",
                                            aws_secret_access_key="testing", region_name=REGION)
            iam, lam, sns = (session.client(name, endpoint_url=state.endpoint_url)
                             for name in ("iam", "lambda", "sns"))
            role = iam.create_role(RoleName="bench-role",
                                   AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
            iam.attach_role_policy(
                RoleName="bench-role",
                PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
            idle_rss = tree_rss_mb(state.pid)

            lam.create_function(FunctionName="echo", Runtime="python3.11", Role=role,
                                Handler="index.handler",
                                Code={"ZipFile": zipped(ECHO % 0, "index.py")})
            cold = []
            for version in range(1, args.cold + 1):
                began = time.perf_counter()
                answer = lam.invoke(FunctionName="echo", Payload=b'{"n": 0}')
                cold.append((time.perf_counter() - began) * 1000)
                assert json.loads(answer["Payload"].read())["version"] == version - 1
                lam.update_function_code(FunctionName="echo",
                                         ZipFile=zipped(ECHO % version, "index.py"))
            lam.invoke(FunctionName="echo", Payload=b"{}")  # warm up the latest code

            warm = []
            for n in range(args.warm):
                began = time.perf_counter()
                answer = lam.invoke(FunctionName="echo", Payload=json.dumps({"n": n}))
                warm.append((time.perf_counter() - began) * 1000)
                assert json.loads(answer["Payload"].read())["n"] == n
            warm_rss = tree_rss_mb(state.pid)

            hook = requests.post(state.slack_http_url + "/labkit/slack/webhooks",
                                 json={"channel": "bench"}, timeout=10).json()["path"]
            arn = lam.create_function(
                FunctionName="mission-lambda", Runtime="python3.11", Role=role,
                Handler="slack_notifier.lambda_handler", Timeout=30,
                Code={"ZipFile": zipped(NOTIFIER.read_text(), "slack_notifier.py")},
                Environment={"Variables": {"slackHookUrl": state.slack_https_url + hook}},
            )["FunctionArn"]
            topic = sns.create_topic(Name="mission-sns")["TopicArn"]
            sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)

            def stored() -> int:
                return len(requests.get(state.slack_http_url + "/api/messages",
                                        params={"channel": "bench"}, timeout=10)
                           .json()["messages"])

            publish_to_slack = []
            for i in range(args.sns + 1):  # the first one includes the cold start: reported apart
                before = stored()
                began = time.perf_counter()
                sns.publish(TopicArn=topic, Message=ALARM, Subject="ALARM: mission-cpu-alarm")
                deadline = began + 60
                while stored() == before:
                    if time.perf_counter() > deadline:
                        raise SystemExit("the message never reached the local Slack")
                    time.sleep(0.002)
                publish_to_slack.append((time.perf_counter() - began) * 1000)
            both_rss = tree_rss_mb(state.pid)
        finally:
            cloud.down(home)

    print("Local Lambda runtime")
    print(row("cold invoke (new environment)", cold))
    print(row("warm invoke", warm))
    print(row("SNS Publish -> local Slack, first", publish_to_slack[:1]))
    print(row("SNS Publish -> local Slack, warm", publish_to_slack[1:]))
    for label, (own, total, children) in (("no function warm", idle_rss),
                                          ("one function warm", warm_rss),
                                          ("two functions warm", both_rss)):
        print(f"{'RSS, ' + label:<38} cloud {own:>6.1f} MB   tree {total:>6.1f} MB "
              f"({children} child process(es))")
    print(f"(warm mean {statistics.fmean(warm):.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
