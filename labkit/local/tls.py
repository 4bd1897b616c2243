"""A certificate authority made on this machine, so the local Slack can speak HTTPS.

Code written for real Slack builds ``https://`` URLs (the source lab's function prepends it), so
the local Slack must answer HTTPS with a certificate that clients can be told to trust. The CA is
made once per ``$LABKIT_HOME`` and kept, so a restart of the local cloud keeps trust working.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import certifi
import trustme

from .state import HOST


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path      # the local CA alone
    ca_bundle: Path    # the public CAs plus the local one: safe to use as SSL_CERT_FILE
    server_cert: Path  # certificate chain for 127.0.0.1 and localhost
    server_key: Path


def _public_cas(ours: Path) -> Path:
    """The CA file this machine already trusts (it may add a company's CA), else certifi's."""
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        path = Path(os.environ.get(name) or "")
        if path.is_file() and path.resolve() != ours.resolve():
            return path
    return Path(certifi.where())


def ensure_tls(home: Path) -> TlsFiles:
    """Load (or make on first use) the local CA and issue a fresh server certificate."""
    folder = home / "ca"
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    if ca_cert.exists() and ca_key.exists():
        ca = trustme.CA.from_pem(ca_cert.read_bytes(), ca_key.read_bytes())
    else:
        ca = trustme.CA(organization_name="labkit local cloud")
        ca.private_key_pem.write_to_path(str(ca_key))
        ca_key.chmod(0o600)
        ca.cert_pem.write_to_path(str(ca_cert))

    bundle = folder / "bundle.pem"
    bundle.write_text(_public_cas(bundle).read_text() + "\n" + ca_cert.read_text())

    leaf = ca.issue_cert(HOST, "localhost")
    server_cert, server_key = folder / "server.pem", folder / "server-key.pem"
    leaf.private_key_pem.write_to_path(str(server_key))
    server_key.chmod(0o600)
    server_cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    return TlsFiles(ca_cert, bundle, server_cert, server_key)
