"""Measure the alarm engine: evaluation time for many alarms, and breach -> notification latency.

Run from the repository root:

    python bench/bench_alarms.py [--alarms 1000] [--runs 5] [--trials 8] [--no-slack]

It prints:
  * evaluation time for N alarms with the pure engine (alarm_engine.evaluate over in-memory
    samples: 10-second period, 3 of 3, ten 1-second samples per period);
  * evaluation time for N alarms through the alarm service (one pass of AlarmService.evaluate_all
    over moto's stored metric data, in this process, no HTTP);
  * on a real local cloud (default tick): the latency from put_metric_data to the notification
    in an SQS queue subscribed to the alarm's topic, for a breach in a period already complete
    (what the alarm service adds) and for a breach in the period still filling up (what a
    learner waits for: the period must end first);
  * unless --no-slack: the latency from put_metric_data to the message in the local Slack,
    through the lab's notifier function run by the local Lambda runtime.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.local.cloudwatch import alarm_engine as engine  # noqa: E402
from labkit.local.cloudwatch.alarm_engine import AlarmConfig, Sample  # noqa: E402

REGION = "ap-northeast-2"
NOTIFIER = ROOT / "labkit" / "functions" / "slack_notifier.py"


def median_ms(timings: list[float]) -> str:
    return (f"{statistics.median(timings) * 1000:.1f} ms "
            f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f})")


def bench_engine(count: int, runs: int) -> list[float]:
    """Seconds per evaluation of *count* alarms with the pure engine."""
    now = datetime.now(timezone.utc)
    start = engine.bucket_start(now, 10) - timedelta(seconds=50)
    work = []
    for i in range(count):
        alarm = AlarmConfig(name=f"a{i}", namespace="AWS/EC2", metric_name="CPUUtilization",
                            statistic="Average", period=10, evaluation_periods=3, threshold=50.0,
                            comparison_operator="GreaterThanOrEqualToThreshold",
                            dimensions=(("InstanceId", f"i-{i:08x}"),))
        samples = [Sample.of(start + timedelta(seconds=s), float((i + s) % 100),
                             storage_resolution=1) for s in range(50)]
        work.append((alarm, samples))
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        for alarm, samples in work:
            engine.evaluate(alarm, samples, now)
        timings.append(time.perf_counter() - began)
    return timings


def bench_service(count: int, runs: int) -> tuple[list[float], float]:
    """Seconds per AlarmService pass over *count* alarms in moto, and the set-up time."""
    import boto3
    from moto import mock_aws

    from labkit.local import moto_patches
    from labkit.local.cloudwatch import alarms

    with mock_aws():
        moto_patches.install(only={"labkit.local.cloudwatch.alarms"})
        # No scheduler thread: this process calls evaluate_all itself.
        service = alarms.AlarmService(publish=lambda *_: "bench", tick_seconds=1.0)
        cw = boto3.client("cloudwatch", region_name=REGION, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        began = time.perf_counter()
        now = datetime.now(timezone.utc)
        first = engine.bucket_start(now, 10) - timedelta(seconds=50)
        for i in range(count):
            dimensions = [{"Name": "InstanceId", "Value": f"i-{i:08x}"}]
            cw.put_metric_alarm(AlarmName=f"bench-{i}", Namespace="AWS/EC2",
                                MetricName="CPUUtilization", Dimensions=dimensions,
                                Statistic="Average", Period=10, EvaluationPeriods=3,
                                Threshold=50.0, ComparisonOperator="GreaterThanOrEqualToThreshold")
            cw.put_metric_data(Namespace="AWS/EC2", MetricData=[
                {"MetricName": "CPUUtilization", "Dimensions": dimensions,
                 "Timestamp": first + timedelta(seconds=s), "Value": float((i + s) % 100),
                 "StorageResolution": 1} for s in range(0, 50, 5)])
        setup = time.perf_counter() - began
        service.evaluate_all()  # the first pass indexes every datum; later passes only new ones
        timings = []
        for _ in range(runs):
            began = time.perf_counter()
            service.evaluate_all()
            timings.append(time.perf_counter() - began)
        return timings, setup


class LocalCloud:
    """A throwaway local cloud with clients, torn down on exit."""

    def __enter__(self) -> "LocalCloud":
        import boto3

        from labkit.local import cloud

        self.cloud = cloud
        self.home = Path(tempfile.mkdtemp(prefix="labkit-bench-alarms-"))
        self.state, _, _ = cloud.up(self.home)
        session = boto3.session.Session(aws_access_key_id="testing",
                                        aws_secret_access_key="testing", region_name=REGION)
        self.client = lambda name: session.client(name, endpoint_url=self.state.endpoint_url)
        self.cw, self.sns, self.sqs = self.client("cloudwatch"), self.client("sns"), \
            self.client("sqs")
        return self

    def __exit__(self, *exc: object) -> None:
        self.cloud.down(self.home)

    def alarm(self, topic: str, instance: str) -> None:
        self.cw.put_metric_alarm(
            AlarmName=f"latency-{instance}", Namespace="AWS/EC2", MetricName="CPUUtilization",
            Dimensions=[{"Name": "InstanceId", "Value": instance}], Statistic="Average",
            Period=10, EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=50.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic])

    def breach(self, instance: str, when: datetime) -> None:
        self.cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{
            "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "InstanceId", "Value": instance}],
            "Timestamp": when, "Value": 97.0, "StorageResolution": 1}])


def wait_for(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise TimeoutError("nothing arrived")


def bench_sqs_latency(lab: LocalCloud, trials: int, filling: bool) -> list[float]:
    topic = lab.sns.create_topic(Name=f"latency-{uuid.uuid4().hex[:6]}")["TopicArn"]
    queue = lab.sqs.create_queue(QueueName=f"latency-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = lab.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    lab.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    timings = []
    pause = random.Random(5)
    for _ in range(trials):
        instance = f"i-{uuid.uuid4().hex[:8]}"
        lab.alarm(topic, instance)
        # Breaches come at any moment (of a tick, of a period), not just after the last
        # notification, which arrived right after a tick.
        time.sleep(pause.uniform(0, 10 if filling else 1))
        now = datetime.now(timezone.utc)
        began = time.perf_counter()
        lab.breach(instance, now if filling else now - timedelta(seconds=10))
        messages = wait_for(lambda: lab.sqs.receive_message(
            QueueUrl=queue, WaitTimeSeconds=0).get("Messages"))
        timings.append(time.perf_counter() - began)
        for message in messages:
            lab.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return timings


def bench_slack_latency(lab: LocalCloud, trials: int) -> list[float]:
    import requests

    hook = requests.post(lab.state.slack_http_url + "/labkit/slack/webhooks",
                         json={"channel": "bench"}, timeout=10).json()
    iam, lam = lab.client("iam"), lab.client("lambda")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName="bench-role",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("slack_notifier.py", NOTIFIER.read_text())
    function = lam.create_function(
        FunctionName="bench-notifier", Runtime="python3.11", Role=role,
        Handler="slack_notifier.lambda_handler", Timeout=30, Code={"ZipFile": buffer.getvalue()},
        Environment={"Variables": {"slackHookUrl": lab.state.slack_https_url + hook["path"]}},
    )["FunctionArn"]
    topic = lab.sns.create_topic(Name="bench-slack")["TopicArn"]
    lam.add_permission(FunctionName="bench-notifier", StatementId="sns",
                       Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
                       SourceArn=topic)
    lab.sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)

    def count() -> int:
        return len(requests.get(lab.state.slack_http_url + "/api/messages",
                                params={"channel": "bench"}, timeout=10).json()["messages"])

    timings = []
    pause = random.Random(7)
    for _ in range(trials):
        instance = f"i-{uuid.uuid4().hex[:8]}"
        lab.alarm(topic, instance)
        before = count()
        time.sleep(pause.uniform(0, 1))
        began = time.perf_counter()
        lab.breach(instance, datetime.now(timezone.utc) - timedelta(seconds=10))
        wait_for(lambda: count() > before)
        timings.append(time.perf_counter() - began)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--no-slack", action="store_true")
    args = parser.parse_args(argv)

    print(f"Evaluation of {args.alarms} alarms (median of {args.runs} passes):")
    print(f"  pure engine:        {median_ms(bench_engine(args.alarms, args.runs))}")
    timings, setup = bench_service(args.alarms, args.runs)
    print(f"  alarm service pass: {median_ms(timings)}  "
          f"(creating the alarms and data in moto took {setup:.1f} s)")

    from labkit.local.cloudwatch import alarms

    print(f"\nLatency on a local cloud (tick {alarms.tick_from_environment():g} s, "
          f"{args.trials} trials, 10-second period):")
    with LocalCloud() as lab:
        print("  breach in a complete period -> SQS:      "
              f"{median_ms(bench_sqs_latency(lab, args.trials, filling=False))}")
        print("  breach in the period filling up -> SQS:  "
              f"{median_ms(bench_sqs_latency(lab, args.trials, filling=True))}")
        if not args.no_slack:
            try:
                print("  breach in a complete period -> Slack:    "
                      f"{median_ms(bench_slack_latency(lab, args.trials))}")
            except Exception as exc:  # the runtime is optional for this measure
                print(f"  breach -> Slack: not measured ({type(exc).__name__}: {exc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
