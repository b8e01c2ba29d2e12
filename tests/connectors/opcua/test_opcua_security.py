"""OPC UA security: Basic256Sha256 SignAndEncrypt, client certificate, trust list, user/password.

The simulator's server offers security None only, so this test runs its own asyncua server with
the policy, a server certificate, a validator trusting exactly the client's certificate and a
user manager that accepts one user.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.server import Server
from cryptography.x509 import ObjectIdentifier
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.connectors.conftest import gather_until
from werk.connectors.base import connector
from werk.connectors.opcua import OpcUaConfig
from werk.errors import ConnectorError
from werk.samples import Quality

pytestmark = pytest.mark.anyio

CLIENT_URI = "urn:werk:test:edge"
PATH = "acme/sec/body/line-1/press-01"


class _Users:
    """Accept user ``edge`` with password ``s3cret``, nobody else (no anonymous access)."""

    def get_user(
        self,
        iserver: object,
        username: str | None = None,
        password: str | None = None,
        certificate: object = None,
    ) -> User | None:
        if username == "edge" and password == "s3cret":
            return User(role=UserRole.User, name=username)
        return None


@dataclass(frozen=True)
class Secured:
    endpoint: str
    folder: Path
    server_cert: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path


async def _cert(
    folder: Path, name: str, uri: str, use: list[ObjectIdentifier]
) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.pem", folder / f"{name}.der"
    await setup_self_signed_certificate(
        key,
        cert,
        uri,
        socket.gethostname(),
        use,
        {"commonName": name},
    )
    return cert, key


@pytest.fixture(scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Secured]:
    """One secured server for the module (an asyncua server takes seconds to start)."""
    tmp_path = tmp_path_factory.mktemp("pki")
    server_cert, server_key = await _cert(
        tmp_path, "server", "urn:werk:test:server", [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    client_cert, client_key = await _cert(
        tmp_path, "client", CLIENT_URI, [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    stranger, _ = await _cert(
        tmp_path, "stranger", "urn:werk:test:stranger", [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    trusted = tmp_path / "trusted-clients"
    trusted.mkdir()
    (trusted / "client.der").write_bytes(client_cert.read_bytes())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Server(user_manager=_Users())  # type: ignore[arg-type]
    await server.init()
    endpoint = f"opc.tcp://127.0.0.1:{port}/"
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    await server.load_certificate(str(server_cert))
    await server.load_private_key(str(server_key))
    store = TrustStore([trusted], [])
    await store.load()
    server.set_certificate_validator(
        CertificateValidator(
            CertificateValidatorOptions.EXT_VALIDATION
            | CertificateValidatorOptions.TRUSTED
            | CertificateValidatorOptions.PEER_CLIENT,
            store,
        )
    )
    ns = await server.register_namespace("urn:werk:test")
    folder = await server.nodes.objects.add_folder(
        ua.NodeId(ua.String("Machines"), ua.Int16(ns)), "Machines"
    )
    var = await folder.add_variable(
        ua.NodeId(ua.String(f"{PATH}/temp"), ua.Int16(ns)), "temp", 21.5
    )
    await var.write_value(21.5)
    await server.start()
    try:
        yield Secured(endpoint, tmp_path, server_cert, client_cert, client_key, stranger)
    finally:
        await server.stop()


def _config(s: Secured, *, password: str = "s3cret", trust: Path | None = None) -> OpcUaConfig:
    return OpcUaConfig.model_validate(
        {
            "name": "secured",
            "endpoint": s.endpoint,
            "username": "edge",
            "password": password,
            "publishing_interval_ms": 100,
            "security": {
                "policy": "Basic256Sha256",
                "mode": "SignAndEncrypt",
                "certificate": str(s.client_cert),
                "private_key": str(s.client_key),
                "application_uri": CLIENT_URI,
                "trust": [str(trust or s.server_cert)],
            },
            "devices": [
                {
                    "path": PATH,
                    "points": [{"signal": "temp", "node": f"nsu=urn:werk:test;s={PATH}/temp"}],
                }
            ],
        }
    )


async def test_secured_session_reads_and_subscribes(secured: Secured) -> None:
    cfg = _config(secured)
    got = await connector("opcua").open(cfg).read_once()
    assert got.samples.to_pylist()[0]["value"] == 21.5
    async with connector("opcua").open(cfg) as source:
        stream = await gather_until(source, lambda g: bool(g.samples))
        assert stream.samples[0].quality is Quality.GOOD
        diag = source.diagnostics()
        assert diag["password"] == "***"
        assert "s3cret" not in str(diag)
    # The same secured session from a worker process: secrets reach it, values come back.
    in_worker = cfg.model_copy(update={"workers": 1})
    async with connector("opcua").open(in_worker) as source:
        stream = await gather_until(source, lambda g: bool(g.samples), within_s=60)
        assert stream.samples[0].value == 21.5


async def test_wrong_password_and_untrusted_server_are_refused(secured: Secured) -> None:
    with pytest.raises(ConnectorError) as wrong:
        await connector("opcua").open(_config(secured, password="nope")).read_once()
    assert wrong.value.key == "connector.opcua_auth", wrong.value.message
    assert "user" in wrong.value.message, wrong.value.message
    untrusted = _config(secured, trust=secured.stranger_cert)
    with pytest.raises(ConnectorError) as refused:
        await connector("opcua").open(untrusted).read_once()
    assert refused.value.key == "connector.opcua_certificate"
    assert "BadCertificateUntrusted" in refused.value.message
