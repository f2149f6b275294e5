"""Integration tests of broker authentication and TLS against a real mosquitto with a password file
and a TLS listener that requires a client certificate."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config.schema import MqttConfig, OutboxConfig, TlsConfig
from agent.errors import PublishError
from agent.publish.client import MqttPublisher
from tests.support.broker import MosquittoBroker
from tests.support.certs import make_pki
from tests.support.secure_broker import SecureBroker, start_secure_broker
from tests.support.subscriber import Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

USER = "edge"
PASSWORD = "s3cret-Pa55"
DEVICE = "dev1"


@pytest.fixture
def auth_broker(private_broker: MosquittoBroker, tmp_path: Path) -> SecureBroker:
    """mosquitto with anonymous access off, a password file, and a TLS listener requiring client certificates."""
    return start_secure_broker(private_broker, tmp_path, USER, PASSWORD, require_certificate=True)


@pytest.fixture
def started() -> Iterator[list[MqttPublisher]]:
    running: list[MqttPublisher] = []
    yield running
    for publisher in running:
        publisher.stop(timeout_s=2.0)


def start(running: list[MqttPublisher], cfg: MqttConfig, state_dir: Path, **kwargs: Any) -> MqttPublisher:
    publisher = MqttPublisher(cfg, OutboxConfig(), DEVICE, state_dir, **kwargs)
    publisher.start()
    running.append(publisher)
    return publisher


def cfg(port: int, prefix: str, **extra: Any) -> MqttConfig:
    return MqttConfig(
        host=extra.pop("host", "127.0.0.1"),
        port=port,
        topic_prefix=prefix,
        username=USER,
        reconnect_initial_s=0.2,
        reconnect_max_s=0.8,
        **extra,
    )


def status_subscriber(auth: SecureBroker, prefix: str) -> Subscriber:
    return Subscriber("127.0.0.1", auth.broker.port, f"{prefix}/{DEVICE}/status", username=USER, password=PASSWORD)


def assert_online_seen(auth_broker: SecureBroker, topic_prefix: str) -> None:
    """A separate client on the password listener sees the agent's retained `online`."""
    watcher = status_subscriber(auth_broker, topic_prefix)
    try:
        assert watcher.wait_for(lambda ms: any(m.payload == b"online" for m in ms), 10)
    finally:
        watcher.close()


def test_password_file_login_publishes_online(
    auth_broker: SecureBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """With the right password from password_file the publisher connects and announces itself."""
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD + "\n")
    publisher = start(started, cfg(auth_broker.broker.port, topic_prefix, password_file=secret), tmp_path / "s")
    assert publisher.wait_connected(10)
    assert_online_seen(auth_broker, topic_prefix)


def test_password_from_a_systemd_credential(
    auth_broker: SecureBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """password_credential reads $CREDENTIALS_DIRECTORY/<name> (here passed explicitly)."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt").write_text(PASSWORD)
    config = cfg(auth_broker.broker.port, topic_prefix, password_credential="mqtt")
    publisher = start(started, config, tmp_path / "s", credentials_dir=creds)
    assert publisher.wait_connected(10)


def test_missing_secrets_raise_publish_error_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing password file or credential fails at construction with a message naming the setting."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(PublishError, match="LoadCredential=mqtt"):
        MqttPublisher(cfg(1883, "t", password_credential="mqtt"), OutboxConfig(), DEVICE, tmp_path)
    with pytest.raises(PublishError, match=r"mqtt\.password_file: cannot read"):
        MqttPublisher(cfg(1883, "t", password_file=tmp_path / "nope"), OutboxConfig(), DEVICE, tmp_path)
    with pytest.raises(PublishError, match=r"mqtt\.password_credential: cannot read"):
        MqttPublisher(cfg(1883, "t", password_credential="mqtt"), OutboxConfig(), DEVICE, tmp_path, tmp_path)


def test_wrong_password_logs_one_line_per_attempt_then_recovers_when_fixed(
    auth_broker: SecureBroker,
    topic_prefix: str,
    tmp_path: Path,
    started: list[MqttPublisher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rejected credentials give one clear line per backoff step (no flood, no spin, no secret), and a
    fixed password file is picked up without a restart."""
    caplog.set_level(logging.INFO, logger="agent.publish")
    secret = tmp_path / "mqtt-password"
    secret.write_text("wrong-password\n")
    publisher = start(started, cfg(auth_broker.broker.port, topic_prefix, password_file=secret), tmp_path / "s")
    time.sleep(3.0)  # let the backoff run a few steps
    attempts = publisher.stats().connect_attempts
    rejected = [r for r in caplog.records if "broker rejected credentials for user edge" in r.getMessage()]
    assert not publisher.connected
    assert 2 <= attempts <= 12  # a spin would make hundreds
    assert attempts - 1 <= len(rejected) <= attempts
    assert all("retrying in" in r.getMessage() and r.levelno == logging.ERROR for r in rejected)
    assert not any("wrong-password" in r.getMessage() for r in caplog.records)

    secret.write_text(PASSWORD + "\n")
    assert publisher.wait_connected(10)


def test_tls_with_client_certificate_and_hostname_verification(
    auth_broker: SecureBroker, topic_prefix: str, tmp_path: Path, started: list[MqttPublisher]
) -> None:
    """Over TLS with the test CA, a client certificate and hostname verification the publisher connects."""
    pki = auth_broker.pki
    tls = TlsConfig(enabled=True, ca_file=pki.ca_cert, cert_file=pki.client_cert, key_file=pki.client_key)
    config = cfg(auth_broker.tls_port, topic_prefix, host="localhost", password=PASSWORD, tls=tls)
    publisher = start(started, config, tmp_path / "s")
    assert publisher.wait_connected(10)
    assert_online_seen(auth_broker, topic_prefix)


def test_tls_hostname_mismatch_is_refused_unless_verification_is_off(
    auth_broker: SecureBroker,
    topic_prefix: str,
    tmp_path: Path,
    started: list[MqttPublisher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A certificate that does not name the host is rejected with a clear log line; verify_hostname=False accepts it."""
    caplog.set_level(logging.WARNING, logger="agent.publish")
    pki = auth_broker.pki
    tls = TlsConfig(enabled=True, ca_file=pki.ca_cert, cert_file=pki.client_cert, key_file=pki.client_key)
    strict = start(started, cfg(auth_broker.tls_port, topic_prefix, password=PASSWORD, tls=tls), tmp_path / "a")
    assert not strict.wait_connected(2)
    assert any("certificate verify failed" in r.getMessage() for r in caplog.records)

    lax_tls = tls.model_copy(update={"verify_hostname": False})
    lax = start(started, cfg(auth_broker.tls_port, topic_prefix + "b", password=PASSWORD, tls=lax_tls), tmp_path / "b")
    assert lax.wait_connected(10)


def test_bad_tls_files_raise_publish_error_naming_the_field(tmp_path: Path) -> None:
    """Missing or unusable TLS files fail at construction, naming the config field."""
    pki = make_pki(tmp_path / "pki")
    missing = TlsConfig(enabled=True, ca_file=tmp_path / "nope.pem")
    with pytest.raises(PublishError, match=r"mqtt\.tls\.ca_file"):
        MqttPublisher(MqttConfig(tls=missing), OutboxConfig(), DEVICE, tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(PublishError, match=r"mqtt\.tls\.ca_file"):
        MqttPublisher(MqttConfig(tls=TlsConfig(enabled=True, ca_file=garbage)), OutboxConfig(), DEVICE, tmp_path)
    wrong_key = TlsConfig(enabled=True, ca_file=pki.ca_cert, cert_file=pki.client_cert, key_file=pki.server_key)
    with pytest.raises(PublishError, match=r"mqtt\.tls\.cert_file/key_file"):
        MqttPublisher(MqttConfig(tls=wrong_key), OutboxConfig(), DEVICE, tmp_path)
