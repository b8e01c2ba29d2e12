"""Load and read the asset model: ``POST /assets`` (admin), ``GET /assets?path=``, and the same
model as Asset Administration Shells: ``GET /assets/aas?format=json|aasx``, ``POST /assets/aas``
(admin, or engineer for what lies under its grants)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import State

from werk.api.auth import Admin, Authenticated, Door, Reader
from werk.api.params import parse_path
from werk.assets.document import assets_from_data, assets_to_data, parse_assets
from werk.assets.model import AssetModel
from werk.assets.paths import is_under
from werk.errors import Forbidden, NotFound, PayloadError
from werk.sharing.door import ReadKind, ReadRequest, Scope
from werk.sharing.principal import Role
from werk.store import Store

router = APIRouter(tags=["assets"])


def current_assets(request: Request) -> AssetModel:
    """Return the asset model: read from the store once, then kept with the app."""
    return assets_of(request.app.state)


def assets_of(state: State) -> AssetModel:
    """Return the asset model of an app's state (read from its store the first time)."""
    model: AssetModel | None = getattr(state, "assets", None)
    if model is None:
        store: Store = state.store
        model = store.assets()
        state.assets = model
    return model


def set_assets(request: Request, model: AssetModel) -> int:
    """Store ``model`` as the new version of the asset model and make it the app's."""
    store: Store = request.app.state.store
    version = store.put_assets(model)
    request.app.state.assets = model
    return version


@router.post("/assets", operation_id="load_assets", summary="Load (merge) an asset model")
async def load_assets(request: Request, _: Admin) -> JSONResponse:
    """Merge a YAML or JSON asset model document into the registry; answer what it now holds."""
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("the asset model must be UTF-8 text", field="body") from exc
    incoming = parse_assets(text, "request body")
    merged = current_assets(request).merged(incoming)
    version = await asyncio.to_thread(set_assets, request, merged)
    return JSONResponse(
        {
            "version": version,
            "sites": len(merged.sites),
            "types": len(merged.types),
            "instances": len(merged.instances),
        }
    )


def visible_data(model: AssetModel, the_path: str | None, scope: Scope) -> dict[str, Any]:
    """Return the model as data, cut to ``the_path`` and to what ``scope`` lets the caller see:
    the instances inside, the sites they stand in, the types they use.

    Raises:
        NotFound: ``the_path`` names no asset.
    """
    data: dict[str, Any] = assets_to_data(model)
    if the_path is not None:
        if not model.knows(the_path):
            raise NotFound(f"no asset at {the_path}", key="assets.not_found", path=the_path)
        data["sites"] = [
            s
            for s in data["sites"]
            if is_under(s["path"], the_path) or is_under(the_path, s["path"])
        ]
        data["instances"] = [i for i in data["instances"] if is_under(i["path"], the_path)]
    if scope.paths != (the_path or "",):
        data["sites"] = [
            s
            for s in data["sites"]
            if scope.allows(s["path"]) or any(is_under(p, s["path"]) for p in scope.paths)
        ]
        data["instances"] = [i for i in data["instances"] if scope.allows(i["path"])]
    if the_path is not None or scope.paths != ("",):
        used = {(i["type"], i["version"]) for i in data["instances"]}
        data["types"] = [t for t in data["types"] if (t["name"], t["version"]) in used]
    return data


@router.get("/assets", operation_id="read_assets", summary="The asset model under a path")
async def read_assets(
    request: Request,
    principal: Reader,
    door: Door,
    path: Annotated[str | None, Query(description="Asset path (empty: everything).")] = None,
    agreement: Annotated[str | None, Query(description="Agreement the read is made under.")] = None,
    purpose: Annotated[str | None, Query(description="Purpose of the read (ODRL).")] = None,
) -> JSONResponse:
    """Return the asset model document: sites, types and instances at or under ``path``.

    Only what the caller may see is in it: the instances under its grants (or agreement), the
    sites they stand in, and the types they use.
    """
    the_path = parse_path(path)
    # the door first: a path the caller may not see is "not found", whether it exists or not
    decision, scope = door.check(
        principal,
        ReadRequest(ReadKind.ASSETS, the_path or "", agreement=agreement, purpose=purpose),
    )
    data = visible_data(current_assets(request), the_path, scope)
    door.record(decision, len(data["sites"]) + len(data["instances"]))
    return JSONResponse(json.loads(json.dumps(data)))


def _range_url(request: Request) -> str:
    """Return the absolute URL of ``GET /api/v1/range``: where a time-series segment reads."""
    return str(request.url_for("range_"))


@router.get(
    "/assets/aas",
    operation_id="export_aas",
    summary="The asset model as Asset Administration Shells (AAS JSON or AASX)",
    response_class=Response,
)
async def export_aas(
    request: Request,
    principal: Reader,
    door: Door,
    format: Annotated[
        Literal["json", "aasx"], Query(description="json: an AAS environment; aasx: a package.")
    ] = "json",
    path: Annotated[str | None, Query(description="Asset path (empty: everything).")] = None,
    agreement: Annotated[str | None, Query(description="Agreement the read is made under.")] = None,
    purpose: Annotated[str | None, Query(description="Purpose of the read (ODRL).")] = None,
) -> Response:
    """Return one shell per equipment instance, type version and site, with a Digital Nameplate
    and a Time Series Data submodel whose segments read each signal from ``/api/v1/range``.

    Like ``GET /assets``, it holds only what the caller may see (the read door decides)."""
    from werk.assets.aas import AASX_MEDIA_TYPE, to_aas_json, to_aasx

    the_path = parse_path(path)
    decision, scope = door.check(
        principal,
        ReadRequest(ReadKind.ASSETS, the_path or "", agreement=agreement, purpose=purpose),
    )
    data = visible_data(current_assets(request), the_path, scope)
    model = assets_from_data(data, "visible asset model")
    door.record(decision, len(data["sites"]) + len(data["instances"]))
    endpoint = _range_url(request)
    if format == "aasx":
        body = await asyncio.to_thread(to_aasx, model, endpoint)
        return Response(
            body,
            media_type=AASX_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="werk-assets.aasx"'},
        )
    body = await asyncio.to_thread(to_aas_json, model, endpoint)
    return Response(body, media_type="application/json")


@router.post("/assets/aas", operation_id="import_aas", summary="Load (merge) AAS JSON or AASX")
async def import_aas(request: Request, principal: Authenticated) -> JSONResponse:
    """Merge shells written by ``GET /assets/aas`` (or edited since) into the asset model.

    Admins may load anything; engineers the sites and machines under their grants (and the type
    versions those use). Errors name the element by its idShort path.
    """
    from werk.assets.aas import from_aas

    if principal.role not in (Role.ADMIN, Role.ENGINEER):
        raise Forbidden(
            f"{principal.kind} {principal.name!r} may not change the asset model",
            key="auth.forbidden",
            role=principal.role,
        )
    body = await request.body()
    if not body:
        raise PayloadError("send an AAS JSON environment or an AASX package", field="body")
    incoming = await asyncio.to_thread(from_aas, body, "request body")
    for path in [s.path for s in incoming.sites] + [i.path for i in incoming.instances]:
        if not principal.may(Role.ENGINEER, path):
            raise Forbidden(
                f"{principal.kind} {principal.name!r} may not change the asset model at {path}",
                key="auth.forbidden",
                path=path,
            )
    merged = current_assets(request).merged(incoming)
    version = await asyncio.to_thread(set_assets, request, merged)
    return JSONResponse(
        {
            "version": version,
            "sites": len(merged.sites),
            "types": len(merged.types),
            "instances": len(merged.instances),
        }
    )
