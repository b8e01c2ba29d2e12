"""Call the running werk server for CLI commands: one place for keys, options and errors.

Answers that are problems (``application/problem+json``) become the same :class:`WerkError`
the server raised, key and fields included, so the CLI prints them like local errors.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

UrlOption = Annotated[
    str, typer.Option("--url", envvar="WERK_URL", help="Base URL of the werk server.")
]
KeyOption = Annotated[
    str | None, typer.Option("--key", envvar="WERK_API_KEY", help="API key (or WERK_ADMIN_KEY).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DEFAULT_URL = "http://127.0.0.1:8600"

_PROBLEM_META = ("type", "title", "status", "detail", "key")


def call(
    url: str,
    key: str | None,
    method: str,
    route: str,
    *,
    params: dict[str, Any] | None = None,
    content: bytes | None = None,
    content_type: str | None = None,
) -> dict[str, Any]:
    """Send one request to ``/api/v1/<route>`` and return the JSON answer.

    Raises:
        AuthError: no key was given.
        StoreUnavailable: the server cannot be reached.
        WerkError: the server answered with a problem (its key and fields are kept).
    """
    import httpx

    from werk.errors import AuthError, StoreUnavailable, WerkError

    secret = key or os.environ.get("WERK_ADMIN_KEY")
    if not secret:
        raise AuthError("give --key or set WERK_API_KEY", field="key")
    headers = {"Authorization": f"Bearer {secret}"}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        response = httpx.request(
            method,
            f"{url.rstrip('/')}/api/v1/{route}",
            params={k: v for k, v in (params or {}).items() if v is not None},
            content=content,
            headers=headers,
            timeout=60,
        )
    except httpx.TransportError as exc:
        raise StoreUnavailable(
            f"cannot reach the werk server at {url}: {exc}", field="url"
        ) from exc
    body: dict[str, Any] = response.json()
    if response.status_code >= 400:
        fields = {k: v for k, v in body.items() if k not in _PROBLEM_META}
        error = WerkError(
            str(body.get("detail", response.text)), key=str(body.get("key")), **fields
        )
        error.status = response.status_code  # type: ignore[misc]
        raise error
    return body


def get(url: str, key: str | None, route: str, params: dict[str, Any]) -> dict[str, Any]:
    """GET ``/api/v1/<route>`` with query parameters (None values left out)."""
    return call(url, key, "GET", route, params=params)
