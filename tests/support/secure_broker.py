"""A real mosquitto with anonymous access off, a password file, and a TLS listener using a
CA and certificates made by the test (tests/support/certs.py)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.broker import MosquittoBroker, free_port
from tests.support.certs import Pki, make_pki


@dataclass(frozen=True)
class SecureBroker:
    broker: MosquittoBroker
    tls_port: int
    pki: Pki


def start_secure_broker(
    broker: MosquittoBroker, workdir: Path, user: str, password: str, *, require_certificate: bool
) -> SecureBroker:
    """Configure and start `broker`: password on every listener, the second listener TLS-only."""
    passwords = workdir / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), user, password], check=True, capture_output=True)
    pki = make_pki(workdir / "pki")  # the server certificate names DNS:localhost only
    tls_port = free_port()
    broker.anonymous = False
    lines = [
        "user root",  # read the files below from the test's private temp dir
        "per_listener_settings false",
        f"password_file {passwords}",
        f"listener {tls_port} 127.0.0.1",
        f"cafile {pki.ca_cert}",
        f"certfile {pki.server_cert}",
        f"keyfile {pki.server_key}",
    ]
    if require_certificate:
        lines.append("require_certificate true")
    broker.extra_config = "\n".join(lines)
    broker.start()
    return SecureBroker(broker, tls_port, pki)
