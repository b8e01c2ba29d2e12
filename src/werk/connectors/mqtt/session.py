"""Open MQTT connections the same way for every connector: TLS, credentials, clear errors.

Used by the MQTT JSON and the Sparkplug B sources. A refused or failed connection becomes a
:class:`~werk.errors.ConnectorError` that says what went wrong in words (wrong credentials,
certificate not trusted, broker unreachable), which the source keeps in its health and logs
once while it retries with the shared backoff.
"""

from __future__ import annotations

import gc
import ssl
import warnings

import aiomqtt

from werk.connectors.mqtt.config import MqttConnection
from werk.errors import ConnectorError

_REFUSED = {
    4: "the broker refused the user name or password",
    5: "the broker refused the connection: not authorised (wrong user name or password?)",
    134: "the broker refused the user name or password",
    135: "the broker refused the connection: not authorised (wrong user name or password?)",
}


def make_client(
    conn: MqttConnection,
    source: str,
    *,
    will: aiomqtt.Will | None = None,
    clean_session: bool = True,
    max_queued: int = 100_000,
) -> aiomqtt.Client:
    """Return an unconnected client with the connection's TLS and credentials.

    Raises:
        ConnectorError: A TLS file is missing or unreadable.
    """
    tls_params = None
    if conn.tls is not None:
        for what in ("ca", "cert", "key"):
            path = getattr(conn.tls, what)
            if path is not None and not path.is_file():
                raise ConnectorError(
                    f"MQTT TLS {what} file {path} does not exist",
                    key="connector.mqtt_tls",
                    source_id=source,
                    field=f"tls.{what}",
                )
        tls_params = aiomqtt.TLSParameters(
            ca_certs=str(conn.tls.ca) if conn.tls.ca else None,
            certfile=str(conn.tls.cert) if conn.tls.cert else None,
            keyfile=str(conn.tls.key) if conn.tls.key else None,
            keyfile_password=(
                conn.tls.key_password.get_secret_value() if conn.tls.key_password else None
            ),
            cert_reqs=ssl.CERT_REQUIRED,
        )
    return aiomqtt.Client(
        conn.host,
        conn.port,
        username=conn.username,
        password=conn.password.get_secret_value() if conn.password else None,
        identifier=conn.client_id or f"werk-{source}",
        will=will,
        clean_session=clean_session,
        keepalive=conn.keepalive_s,
        timeout=conn.timeout_s,
        tls_params=tls_params,
        tls_insecure=conn.tls.insecure if conn.tls is not None else None,
        max_queued_incoming_messages=max_queued,
    )


def explain(exc: BaseException, conn: MqttConnection, source: str) -> ConnectorError:
    """Turn a failed MQTT connection into an error that says why, in words."""
    where = f"MQTT broker {conn.host}:{conn.port}"
    if isinstance(exc, ConnectorError):
        return exc
    rc = getattr(exc, "rc", None)
    rc = getattr(rc, "value", rc)  # paho 2 wraps CONNACK codes in a ReasonCode
    text = str(exc)
    if isinstance(rc, int) and rc in _REFUSED:
        message, key = f"{where}: {_REFUSED[rc]}", "connector.mqtt_auth"
    elif "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        message, key = f"{where}: its TLS certificate is not trusted ({text})", "connector.mqtt_tls"
        _release(exc)
    elif "SSL" in text or "WRONG_VERSION_NUMBER" in text or "record layer" in text:
        message, key = f"{where}: TLS handshake failed ({text})", "connector.mqtt_tls"
        _release(exc)
    else:
        message, key = f"{where}: {text or type(exc).__name__}", "connector.unreachable"
    return ConnectorError(message, key=key, source_id=source)


def _release(exc: BaseException) -> None:
    """Drop the tracebacks of a failed connect, closing what their frames held.

    Only for a failed TLS handshake: that socket never reached the event loop, so closing it
    cannot pull a descriptor from under aiomqtt. paho 2.2 never closes the SSLSocket of a
    failed TLS handshake; only the traceback of the
    ``SSLError`` (kept by aiomqtt's connect future) holds it. A source that retries for hours
    would keep one descriptor per attempt until some later GC pass, so free them now.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        while todo:
            e = todo.pop()
            if e is None or id(e) in seen:
                continue
            seen.add(id(e))
            e.__traceback__ = None
            todo += [e.__cause__, e.__context__]
        del e
        gc.collect()
