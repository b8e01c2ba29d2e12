"""``werk share ...``: data assets, offers, catalog, negotiations, agreements and the access log.

Every command talks to the running server as the participant its key belongs to: an owner
registers assets, publishes offers, approves requests and revokes agreements; a consumer browses
its catalog, negotiates and lists what it holds. Listings take ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from werk.cli.client import DEFAULT_URL, JsonOption, KeyOption, UrlOption, call
from werk.cli.output import emit_json, emit_rows
from werk.errors import InvalidInput

app = typer.Typer(
    help="Share data under agreements: offers, negotiations, audit.", no_args_is_help=True
)

ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why (kept in the audit log).")]


def _send(url: str, key: str | None, method: str, route: str, body: object | None = None) -> Any:
    content = json.dumps(body).encode() if body is not None else None
    return call(
        url,
        key,
        method,
        f"sharing/{route}",
        content=content,
        content_type="application/json" if content is not None else None,
    )


def _policy(path: Path | None, what: str) -> dict[str, object] | None:
    if path is None:
        return None
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"{what}: cannot read {path}: {exc}", file=str(path), field=what
        ) from exc
    if not isinstance(loaded, dict):
        raise InvalidInput(f"{what}: {path} must hold a JSON object", file=str(path), field=what)
    return cast(dict[str, object], loaded)


@app.command("assets")
def assets(url: UrlOption = DEFAULT_URL, key: KeyOption = None, json_: JsonOption = False) -> None:
    """List the data assets your participant owns."""
    rows = cast(list[dict[str, Any]], _send(url, key, "GET", "assets"))
    emit_rows(
        [
            {
                "id": r["id"],
                "owner": r["owner"],
                "scope": r["scope"],
                "categories": ",".join(r["categories"]),
                "signals": ",".join(r["signals"] or []) or "all",
            }
            for r in rows
        ]
        if not json_
        else rows,
        as_json=json_,
        title="data assets",
    )


@app.command("register")
def register(
    asset_id: Annotated[str, typer.Argument(help="Asset id (a slug).")],
    scope: Annotated[str, typer.Option(help="Asset path prefix your participant owns.")],
    category: Annotated[
        list[str], typer.Option(help="raw, states, kpis, quality or metadata; repeat for more.")
    ],
    signal: Annotated[list[str] | None, typer.Option(help="Only these signals; repeat.")] = None,
    title: Annotated[str, typer.Option(help="Shown in catalogs.")] = "",
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Register a data asset under a path your participant owns."""
    body = {
        "id": asset_id,
        "scope": scope,
        "categories": category,
        "signals": signal,
        "title": title,
    }
    created = _send(url, key, "POST", "assets", body)
    if json_:
        emit_json(created)
    else:
        typer.echo(f"registered {asset_id}")


@app.command("offers")
def offers(url: UrlOption = DEFAULT_URL, key: KeyOption = None, json_: JsonOption = False) -> None:
    """List the offers your participant published."""
    rows = cast(list[dict[str, Any]], _send(url, key, "GET", "offers"))
    emit_rows(
        rows
        if json_
        else [
            {
                "id": r["id"],
                "asset": r["asset"]["id"],
                "auto": "yes" if r["auto_accept"] else "no",
                "active": "yes" if r["active"] else "withdrawn",
                "policy": r["usage_hash"][:19],
            }
            for r in rows
        ],
        as_json=json_,
        title="offers",
    )


@app.command("publish")
def publish(
    asset: Annotated[str, typer.Argument(help="Asset id.")],
    usage: Annotated[Path, typer.Option(help="JSON file with the usage policy (the terms).")],
    access: Annotated[Path | None, typer.Option(help="JSON file: who sees the offer.")] = None,
    auto_accept: Annotated[bool, typer.Option(help="Agree to matching requests at once.")] = False,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Offer an asset under a usage policy; prints the offer id."""
    body = {
        "asset": asset,
        "usage_policy": _policy(usage, "usage"),
        "access_policy": _policy(access, "access"),
        "auto_accept": auto_accept,
    }
    offer = _send(url, key, "POST", "offers", body)
    if json_:
        emit_json(offer)
    else:
        typer.echo(offer["id"])


@app.command("withdraw")
def withdraw(
    offer: Annotated[str, typer.Argument(help="Offer id.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """Withdraw an offer (agreements made from it stay)."""
    _send(url, key, "DELETE", f"offers/{offer}")
    typer.echo(f"withdrew {offer}")


@app.command("catalog")
def catalog(
    page: Annotated[int, typer.Option(help="Page, from 1.")] = 1,
    size: Annotated[int, typer.Option(help="Datasets per page.")] = 50,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """List the offers you may request (your DCAT catalog)."""
    body = call(url, key, "GET", "sharing/catalog", params={"page": page, "size": size})
    if json_:
        emit_json(body)
        return
    rows = [
        {
            "offer": d["hasPolicy"][0]["@id"],
            "dataset": d["title"],
            "owner": d["werk:owner"],
            "scope": d["werk:scope"],
            "categories": ",".join(d["werk:categories"]),
            "auto": "yes" if d["hasPolicy"][0].get("werk:autoAccept") else "no",
        }
        for d in body["dataset"]
    ]
    emit_rows(rows, as_json=False, title=f"catalog page {page} of {body['werk:total']} offers")


@app.command("negotiate")
def negotiate(
    offer: Annotated[str, typer.Argument(help="Offer id from the catalog.")],
    policy: Annotated[Path | None, typer.Option(help="Ask for other terms (JSON file).")] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Ask for an offer; pre-approved offers come back FINALIZED with an agreement id."""
    found = _send(
        url, key, "POST", "negotiations", {"offer": offer, "policy": _policy(policy, "policy")}
    )
    if json_:
        emit_json(found)
        return
    typer.echo(f"{found['providerPid']} {found['state']} {found.get('agreement_id') or ''}".strip())


@app.command("negotiations")
def negotiations(
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, json_: JsonOption = False
) -> None:
    """List the negotiations you are a party to."""
    rows = cast(list[dict[str, Any]], _send(url, key, "GET", "negotiations"))
    emit_rows(
        rows
        if json_
        else [
            {
                "pid": r["providerPid"],
                "state": r["state"],
                "consumer": r["consumer"],
                "provider": r["provider"],
                "asset": r["asset"],
                "agreement": r.get("agreement_id") or "",
                "reason": "; ".join((r.get("reason") or {}).get("reason") or []),
            }
            for r in rows
        ],
        as_json=json_,
        title="negotiations",
    )


@app.command("approve")
def approve(
    pid: Annotated[str, typer.Argument(help="Negotiation (provider pid).")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """Agree to a request as the owner."""
    found = _send(url, key, "POST", f"negotiations/{pid}/approve")
    typer.echo(f"{pid} {found['state']} {found.get('agreement_id') or ''}".strip())


@app.command("reject")
def reject(
    pid: Annotated[str, typer.Argument(help="Negotiation (provider pid).")],
    reason: ReasonOption = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """End a negotiation with a reason (either party)."""
    found = _send(url, key, "POST", f"negotiations/{pid}/terminate", {"reason": reason})
    typer.echo(f"{pid} {found['state']}")


@app.command("verify")
def verify(
    pid: Annotated[str, typer.Argument(help="Negotiation (provider pid).")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """Verify an agreement the owner approved (as the consumer); it becomes active."""
    found = _send(url, key, "POST", f"negotiations/{pid}/verify")
    typer.echo(f"{pid} {found['state']} {found.get('agreement_id') or ''}".strip())


@app.command("agreements")
def agreements(
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, json_: JsonOption = False
) -> None:
    """List the agreements you gave or hold."""
    rows = cast(list[dict[str, Any]], _send(url, key, "GET", "agreements"))
    emit_rows(
        rows
        if json_
        else [
            {
                "id": r["id"],
                "status": r["status"],
                "owner": r["assigner"],
                "consumer": r["assignee"],
                "asset": r["asset"]["id"],
                "scope": r["asset"]["scope"],
                "policy": r["policy_hash"][:19],
            }
            for r in rows
        ],
        as_json=json_,
        title="agreements",
    )


def _lifecycle(action: str, agreement: str, reason: str | None, url: str, key: str | None) -> None:
    found = _send(url, key, "POST", f"agreements/{agreement}/{action}", {"reason": reason})
    typer.echo(f"{agreement} {found['status']}")


@app.command("revoke")
def revoke(
    agreement: Annotated[str, typer.Argument(help="Agreement id.")],
    reason: ReasonOption = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """Revoke an agreement: the next read under it is denied, live streams end."""
    _lifecycle("revoke", agreement, reason, url, key)


@app.command("suspend")
def suspend(
    agreement: Annotated[str, typer.Argument(help="Agreement id.")],
    reason: ReasonOption = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """Suspend an agreement until resumed."""
    _lifecycle("suspend", agreement, reason, url, key)


@app.command("resume")
def resume(
    agreement: Annotated[str, typer.Argument(help="Agreement id.")],
    reason: ReasonOption = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """Resume a suspended agreement."""
    _lifecycle("resume", agreement, reason, url, key)


@app.command("audit")
def audit(
    agreement: Annotated[str | None, typer.Option(help="Only this agreement.")] = None,
    after: Annotated[int, typer.Option(help="Only records after this sequence number.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many records.")] = 100,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the access log: every access to your data, and your own reads."""
    rows = cast(
        list[dict[str, Any]],
        call(
            url,
            key,
            "GET",
            "sharing/audit",
            params={"agreement": agreement, "after": after, "limit": limit},
        ),
    )
    emit_rows(
        rows
        if json_
        else [
            {
                "seq": r["seq"],
                "time": r["time"][:19],
                "who": f"{r['actor']}@{r['participant']}",
                "what": r["what"],
                "path": r.get("path") or r.get("subject") or "",
                "decision": r.get("decision") or "",
                "rows": "" if r.get("rows") is None else r["rows"],
                "reasons": ",".join(x["code"] for x in r.get("reasons") or []),
            }
            for r in rows
        ],
        as_json=json_,
        title="access log",
    )
