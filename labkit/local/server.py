"""The local cloud process: moto and the local Slack on 127.0.0.1, until told to stop.

Run by ``labkit local up`` (or the first notebook) as ``python -m labkit.local.server``; nobody
needs to start it by hand. It serves three ports:

* the AWS endpoint (moto server, plus labkit's own ``/labkit/...`` control routes),
* the local Slack over plain HTTP,
* the local Slack over HTTPS, with a certificate from a CA made on this machine.

Once every port listens it writes ``local-cloud.json`` into the state folder; clients treat that
file as the sign that the cloud is ready. A lock file keeps a second server off the same folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import ssl
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from filelock import FileLock, Timeout
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from ..masking import mask_secrets
from . import state as st
from .processes import stop_signals
from .slack.app import make_slack_app
from .slack.store import SlackStore
from .tls import ensure_tls
from .waits import wait_scale_from_environment

DEFAULT_PORTS = {"aws": 4750, "slack_http": 4751, "slack_https": 4752}

# moto backends a learner's resources live in, with how to count what each holds.
HOLDINGS: dict[str, Callable[[Any], int]] = {
    "sns topics": lambda b: len(b.topics),
    "sqs queues": lambda b: len(b.queues),
    "lambda functions": lambda b: len(list(b.list_functions("ALL"))),
    "kms keys": lambda b: len(b.keys),
    "iam roles": lambda b: len(b.roles),
    "iam policies": lambda b: sum(
        1 for p in b.managed_policies.values() if ":aws:policy/" not in p.arn
    ),
    "cloudwatch alarms": lambda b: len(b.alarms),
    "log groups": lambda b: len(b.groups),
    "ec2 instances": lambda b: len(b.all_instances()),
}
BACKEND_OF = {
    "sns topics": "sns", "sqs queues": "sqs", "lambda functions": "lambda", "kms keys": "kms",
    "iam roles": "iam", "iam policies": "iam", "cloudwatch alarms": "cloudwatch",
    "log groups": "logs", "ec2 instances": "ec2",
}


def count_holdings() -> dict[str, int]:
    """How many resources of each kind moto holds, over every account and region."""
    from moto.backends import get_backend

    counts: dict[str, int] = {}
    for label, count in HOLDINGS.items():
        total = 0
        try:
            for regions in get_backend(BACKEND_OF[label]).values():  # type: ignore[arg-type]
                for backend in list(regions.values()):
                    total += count(backend)
        except Exception:  # a count is a courtesy: never let it break status
            total = -1
        counts[label] = total
    return counts


def is_cloudformation_request(environ: dict) -> bool:
    """Whether a request to the AWS port is CloudFormation's (its signature's scope names the
    service, as moto's dispatcher reads it)."""
    return "/cloudformation/aws4_request" in environ.get("HTTP_AUTHORIZATION", "")


class MaskingFilter(logging.Filter):
    """Masks webhook secrets in every log record before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_secrets(record.getMessage()), None
        return True


class MaskingRequestHandler(WSGIRequestHandler):
    """Request logging without webhook secrets (they sit in the request path)."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        sys.stderr.write(
            "%s - - [%s] %s\n"
            % (self.address_string(), self.log_date_time_string(), mask_secrets(message % args))
        )


def _moto_handler() -> type[WSGIRequestHandler]:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Handler(MaskingRequestHandler, MotoRequestHandler):
        pass

    return Handler


class LocalCloud:
    """The running process: owns the servers, the Slack store and the state file."""

    def __init__(self, home: Path, ports: dict[str, int], rate_limit: bool) -> None:
        self.home = home
        self.requested_ports = ports
        self.cloud_id = uuid.uuid4().hex[:12]
        self.started_at = time.time()
        self.slack = SlackStore()
        self.rate_limit = rate_limit
        self.servers: list[BaseWSGIServer] = []
        # Set by a stop signal or the shutdown route; the main thread then runs stop() itself,
        # so the process never ends half-way through stopping its function workers.
        self.stop_requested = threading.Event()
        self._stopped = False
        self.state: st.CloudState | None = None

    # -- the AWS port: moto, with labkit's control routes in front ------------------------
    def aws_app(self) -> Callable:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from .iam import authz

        # Calls signed with a function's role credentials are checked against that role's
        # policies; everything else (the learner's own calls) goes straight to moto.
        moto_app = authz.wrap(DomainDispatcherApplication(create_backend_app))
        stacks_ready = threading.Event()

        def app(environ: dict, start_response: Callable) -> Any:
            if environ.get("PATH_INFO", "").startswith("/labkit/"):
                return self.control_app(environ, start_response)
            if not stacks_ready.is_set() and is_cloudformation_request(environ):
                from . import moto_patches

                moto_patches.install(only=moto_patches.ON_FIRST_STACK)
                stacks_ready.set()
            return moto_app(environ, start_response)

        return app

    def control_app(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        if request.path.startswith("/labkit/iam/"):
            from .iam import authz

            return authz.control_app(environ, start_response)
        if request.path == "/labkit/status" and request.method == "GET":
            response = Response(json.dumps(self.status()), mimetype="application/json")
        elif request.path == "/labkit/shutdown" and request.method == "POST":
            self.stop_requested.set()
            response = Response(json.dumps({"stopping": True}), mimetype="application/json")
        else:
            response = Response(json.dumps({"error": "not found"}), 404,
                                mimetype="application/json")
        return response(environ, start_response)

    def status(self) -> dict:
        assert self.state is not None
        webhooks = self.slack.webhooks()
        return {
            **self.state.to_json(),
            "uptime_seconds": round(self.state.uptime_seconds, 1),
            "endpoint_url": self.state.endpoint_url,
            "holds": count_holdings(),
            "slack": {
                "webhooks": [{"channel": w.channel, "hook_id": w.hook_id} for w in webhooks],
                "messages": len(self.slack.messages()),
            },
        }

    # -- life cycle -------------------------------------------------------------------------
    def _bind(self, name: str, app: Callable, handler: type[WSGIRequestHandler],
              ssl_context: ssl.SSLContext | None = None) -> BaseWSGIServer:
        port = self.requested_ports[name]
        try:
            server = make_server(st.HOST, port, app, threaded=True, request_handler=handler,
                                 ssl_context=ssl_context)
        except (OSError, SystemExit):
            # werkzeug reports a taken port by exiting; either way, take any free port instead
            # (another program, or the local cloud of another LABKIT_HOME, holds this one).
            if port == 0:
                raise
            server = make_server(st.HOST, 0, app, threaded=True, request_handler=handler,
                                 ssl_context=ssl_context)
        self.servers.append(server)
        return server

    def start(self) -> st.CloudState:
        tls = ensure_tls(self.home)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.server_cert, tls.server_key)
        slack_app = make_slack_app(self.slack, rate_limit=self.rate_limit,
                                   wait_scale=wait_scale_from_environment())

        aws = self._bind("aws", self.aws_app(), _moto_handler())
        self.install_fidelity(f"http://{st.HOST}:{aws.server_port}", str(tls.ca_bundle))
        http = self._bind("slack_http", slack_app, MaskingRequestHandler)
        https = self._bind("slack_https", slack_app, MaskingRequestHandler, context)
        for server in self.servers:
            # A short poll: shutdown() waits for the loop to look, once per server.
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True).start()

        self.state = st.CloudState(
            pid=os.getpid(), cloud_id=self.cloud_id, started_at=self.started_at, host=st.HOST,
            aws_port=aws.server_port, slack_http_port=http.server_port,
            slack_https_port=https.server_port, ca_cert=str(tls.ca_cert),
            ca_bundle=str(tls.ca_bundle), labkit_dir=st.this_labkit_dir(),
        )
        st.write_state(self.home, self.state)
        return self.state

    def install_fidelity(self, endpoint_url: str, ca_bundle: str) -> None:
        """Patch moto where it falls short of what the lab needs, and where it does work
        nobody sees (see ``moto_patches.py``), and start the Lambda runtime and the alarm
        scheduler it hands work to. Called before the servers take any request."""
        from . import moto_patches

        services = moto_patches.install(endpoint_url, ca_bundle, self.home,
                                        only=moto_patches.AT_START)
        self.runtime, self.alarms = services.runtime, services.alarms

    def stop(self) -> None:
        """Stop serving, then stop the alarms and every function worker; forget the state."""
        if self._stopped:
            return
        self._stopped = True
        st.remove_state(self.home, pid=os.getpid())
        for server in self.servers:
            server.shutdown()
        for service in (getattr(self, "alarms", None), getattr(self, "runtime", None)):
            if service is not None:
                service.shutdown()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m labkit.local.server",
        description="Run the local cloud in the foreground (normally started by `labkit local up`).",
    )
    parser.add_argument("--home", type=Path, default=None,
                        help="state folder (default: $LABKIT_HOME or ~/.labkit)")
    parser.add_argument("--aws-port", type=int, default=DEFAULT_PORTS["aws"])
    parser.add_argument("--slack-port", type=int, default=DEFAULT_PORTS["slack_http"])
    parser.add_argument("--slack-tls-port", type=int, default=DEFAULT_PORTS["slack_https"])
    parser.add_argument("--no-rate-limit", action="store_true",
                        help="let the local Slack accept any burst (tests)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = (args.home or st.labkit_home()).expanduser()
    # AWS-managed policies (AWSLambdaBasicExecutionRole, ...) can then be attached by name.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    home.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Whatever a module logs (a function's stray output, an error quoting a URL) is masked.
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())

    # Held while this server runs (the operating system releases it even if the process is
    # killed), so a second server for the same folder gives up at once: exit code 3 tells
    # `up` to use the first one.
    lock = FileLock(home / st.LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"Another local cloud already uses {home}.", file=sys.stderr)
        return 3

    cloud = LocalCloud(
        home,
        {"aws": args.aws_port, "slack_http": args.slack_port, "slack_https": args.slack_tls_port},
        rate_limit=not args.no_rate_limit,
    )
    for sig in stop_signals():
        signal.signal(sig, lambda *_: cloud.stop_requested.set())
    state = cloud.start()
    print(f"local cloud {state.cloud_id} ready: aws {state.endpoint_url}, "
          f"slack {state.slack_http_url} / {state.slack_https_url}", flush=True)
    # Polled rather than waited for without end, so that Ctrl+C reaches the handler on Windows.
    while not cloud.stop_requested.wait(0.1):
        pass
    cloud.stop()
    print("local cloud stopped", flush=True)
    lock.release()
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is stopped and the state is gone: skip the interpreter's tear-down of moto's
    # stores, which took longer than all the rest of stopping.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
