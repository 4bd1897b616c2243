"""Batch kernels listen on Unix sockets (macOS, Linux): no TCP port another program can take."""

from __future__ import annotations

import asyncio
import glob
import os

import psutil
import pytest
from jupyter_client.manager import AsyncKernelManager

from labkit.batch.kernels import LocalSocketKernelManager, papermill_options

pytestmark = pytest.mark.skipif(os.name == "nt", reason="Windows kernels keep TCP")


CHANNELS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


async def started_and_asked(manager: AsyncKernelManager, code: str) -> tuple[list, list, dict]:
    """Start *manager*'s kernel and run *code*: the TCP ports it listens on that its client
    picked (for it to open later), the socket files of its channels, and the reply."""
    await manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        kernel = psutil.Process(manager.provisioner.process.pid)
        info = manager.get_connection_info()
        ports = {info[channel] for channel in CHANNELS}
        files = [f"{info['ip']}-{port}" for port in ports if os.path.exists(f"{info['ip']}-{port}")]
        handed_over = [c.laddr.port for c in kernel.net_connections(kind="tcp")
                       if c.status == psutil.CONN_LISTEN and c.laddr.port in ports]
        reply = await client.execute(code, reply=True, timeout=60)
        return handed_over, files, reply["content"]
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


def test_over_tcp_the_client_picks_the_ports_the_kernel_opens():
    """The race this module avoids: five ports picked by one process, opened by another."""
    handed_over, _, content = asyncio.run(started_and_asked(AsyncKernelManager(), "1"))
    assert content["status"] == "ok" and len(handed_over) == 5


def test_a_kernel_runs_code_over_unix_sockets_and_leaves_none_behind():
    manager = LocalSocketKernelManager(kernel_name="python3")
    assert manager.transport == "ipc"
    handed_over, files, content = asyncio.run(started_and_asked(manager, "x = 6 * 7"))
    assert content["status"] == "ok"
    assert handed_over == [] and len(files) == 5  # every channel a socket file, no TCP port
    assert glob.glob(f"{manager.ip}-*") == []  # the socket files went with the kernel


def test_several_kernels_start_at_once_each_with_sockets_of_its_own():
    managers = [LocalSocketKernelManager(kernel_name="python3") for _ in range(3)]
    assert len({m.ip for m in managers}) == 3

    async def all_at_once() -> list:
        return await asyncio.gather(*(started_and_asked(m, "import os") for m in managers))

    assert [content["status"] for *_, content in asyncio.run(all_at_once())] == ["ok"] * 3


def test_a_runtime_folder_too_deep_for_a_socket_path_keeps_tcp(monkeypatch, tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(deep))
    assert LocalSocketKernelManager(kernel_name="python3").transport == "tcp"


def test_papermill_is_given_the_manager():
    assert papermill_options() == {"kernel_manager_class": LocalSocketKernelManager}
