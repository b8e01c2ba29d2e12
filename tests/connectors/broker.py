"""A private Mosquitto with passwords and TLS, started for the MQTT and Sparkplug tests.

The shared broker on 1883 is anonymous and plain; wrong credentials and TLS need a broker that
checks them. This one runs from the same ``mosquitto`` binary on two free ports: one plain, one
TLS (a CA made here signs its certificate), both requiring user ``werk`` / ``s3cret``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.conftest import port_open, unavailable

USER, PASSWORD = "werk", "s3cret"


@dataclass(frozen=True)
class Broker:
    """Where the private broker listens and the CA that signed its TLS certificate."""

    port: int
    tls_port: int
    ca: Path
    other_ca: Path
    """A CA that did not sign the broker: a client trusting only it must fail."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(
    subject: str, key: rsa.RSAPrivateKey, issuer: tuple[str, rsa.RSAPrivateKey] | None, ca: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="session")
def private_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Start a Mosquitto requiring a password, with a plain and a TLS listener."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    passwd_tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(binary).exists() or not Path(passwd_tool).exists():
        unavailable("the mosquitto binary is not installed (apt install mosquitto)")
    d = tmp_path_factory.mktemp("broker")
    d.chmod(0o755)
    ca_key, other_key, server_key = _key(), _key(), _key()
    ca = _pem(d / "ca.pem", _cert("werk test CA", ca_key, None, True))
    other = _pem(d / "other-ca.pem", _cert("someone else", other_key, None, True))
    _pem(d / "server.pem", _cert("localhost", server_key, ("werk test CA", ca_key), False))
    (d / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    subprocess.run([passwd_tool, "-b", "-c", str(d / "passwd"), USER, PASSWORD], check=True)
    for f in d.iterdir():
        f.chmod(0o644)
    port, tls_port = _free_port(), _free_port()
    (d / "mosquitto.conf").write_text(
        "\n".join(
            [
                "per_listener_settings false",
                "allow_anonymous false",
                f"password_file {d / 'passwd'}",
                "persistence false",
                "log_dest stderr",
                "user root",
                f"listener {port} 127.0.0.1",
                f"listener {tls_port} 127.0.0.1",
                f"cafile {ca}",
                f"certfile {d / 'server.pem'}",
                f"keyfile {d / 'server.key'}",
                "",
            ]
        )
    )
    with (d / "mosquitto.log").open("wb") as log:
        proc = subprocess.Popen(
            [binary, "-c", str(d / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=log
        )
    try:
        deadline = time.monotonic() + 10
        while not (port_open(port) and port_open(tls_port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                unavailable(f"private mosquitto did not start: {(d / 'mosquitto.log').read_text()}")
            time.sleep(0.05)
        yield Broker(port, tls_port, ca, other)
    finally:
        proc.terminate()
        proc.wait(5)


@contextlib.contextmanager
def anonymous_broker(folder: Path, port: int) -> Iterator[None]:
    """Run a plain, anonymous Mosquitto on ``port`` for the duration of the block.

    For tests that stop and restart a broker (the shared one on 1883 must stay up).
    """
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        unavailable("the mosquitto binary is not installed (apt install mosquitto)")
    conf = folder / f"anon-{port}.conf"
    conf.write_text(
        f"allow_anonymous true\npersistence false\nlog_dest none\nlistener {port} 127.0.0.1\n"
    )
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                unavailable(f"mosquitto did not start on port {port}")
            time.sleep(0.02)
        yield
    finally:
        proc.terminate()
        proc.wait(5)


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    return _free_port()
