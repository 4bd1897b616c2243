"""The local Lambda runtime. (Placeholder: filled in by the runtime work.)"""

from __future__ import annotations

from pathlib import Path


class Runtime:
    def shutdown(self) -> None:
        return None


def install(endpoint_url: str, ca_bundle: str, home: Path) -> Runtime:
    return Runtime()
