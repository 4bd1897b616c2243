"""How labkit starts the kernels that run notebooks in a batch (``labkit run``, a class).

Over TCP, a kernel's ports are picked by the process that starts it, which closes them and
hands them to the kernel to open again; in between, any other program may take one - another
kernel starting, or one of the thousands of connections a lab makes to the local cloud. The
kernel then fails to start and its client waits a minute for it. Several learners' notebooks
starting at once in a class rehearsal made that happen. On macOS and Linux the kernels here
listen on Unix sockets in Jupyter's runtime folder instead, whose names nobody else picks;
on Windows they keep TCP.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from jupyter_client.manager import AsyncKernelManager

# A Unix socket's path must fit in about 104 bytes (macOS; 108 on Linux).
_SOCKET_PATH_LIMIT = 100


class LocalSocketKernelManager(AsyncKernelManager):
    """A kernel manager that talks to its kernel over Unix sockets where the system has them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if os.name == "nt":
            return
        from jupyter_core.paths import jupyter_runtime_dir

        folder = jupyter_runtime_dir()
        base = os.path.join(folder, f"labkit-{uuid.uuid4().hex[:12]}")
        if len(f"{base}-99999") <= _SOCKET_PATH_LIMIT:
            os.makedirs(folder, exist_ok=True)
            self.transport = "ipc"
            self.ip = base  # each socket is the file "<base>-<n>", removed at shutdown


def papermill_options() -> dict[str, Any]:
    """Keyword arguments for ``papermill.execute_notebook``: start kernels the way above."""
    return {"kernel_manager_class": LocalSocketKernelManager}
