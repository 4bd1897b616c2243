"""Where the local cloud keeps its state, and how a running one is found.

Everything lives in one folder, ``$LABKIT_HOME`` (default ``~/.labkit``), so that tests or two
courses can run isolated local clouds side by side by pointing the variable elsewhere.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

STATE_FILE = "local-cloud.json"
LOG_FILE = "local-cloud.log"
LOCK_FILE = "local-cloud.lock"
HOST = "127.0.0.1"


def labkit_home() -> Path:
    """The state folder: ``$LABKIT_HOME`` or ``~/.labkit``, created on first use."""
    home = Path(os.environ.get("LABKIT_HOME") or Path.home() / ".labkit").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


@dataclass(frozen=True)
class CloudState:
    """What a running local cloud wrote about itself once it was ready."""

    pid: int
    cloud_id: str
    started_at: float
    host: str
    aws_port: int
    slack_http_port: int
    slack_https_port: int
    ca_cert: str
    ca_bundle: str
    # The labkit package the server runs from: a cloud started by another copy or version of the
    # workbook may lack what this one needs.
    labkit_dir: str = ""

    @property
    def endpoint_url(self) -> str:
        """The AWS endpoint (``AWS_ENDPOINT_URL``) every boto3 client of the local target uses."""
        return f"http://{self.host}:{self.aws_port}"

    @property
    def slack_http_url(self) -> str:
        return f"http://{self.host}:{self.slack_http_port}"

    @property
    def slack_https_url(self) -> str:
        return f"https://{self.host}:{self.slack_https_port}"

    @property
    def uptime_seconds(self) -> float:
        return max(0.0, time.time() - self.started_at)

    def to_json(self) -> dict:
        return asdict(self)


def read_state(home: Path) -> CloudState | None:
    """The state file's content, or None when there is none or it cannot be read."""
    try:
        data = json.loads((home / STATE_FILE).read_text())
        return CloudState(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_state(home: Path, state: CloudState) -> None:
    """Write the state file atomically, so a reader never sees half of it."""
    tmp = home / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2))
    tmp.replace(home / STATE_FILE)


def remove_state(home: Path, pid: int | None = None) -> None:
    """Remove the state file (only if it still belongs to *pid*, when given)."""
    path = home / STATE_FILE
    if pid is not None:
        current = read_state(home)
        if current is not None and current.pid != pid:
            return
    path.unlink(missing_ok=True)


def process_is_local_cloud(pid: int) -> bool:
    """True when *pid* is alive and is a local cloud server (not a recycled pid)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return "labkit.local.server" in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def this_labkit_dir() -> str:
    """The folder of the labkit package running in this process."""
    return str(Path(__file__).resolve().parents[1])
