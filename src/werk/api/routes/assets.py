"""Load and read the asset model: ``POST /assets`` (admin), ``GET /assets?path=``."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import State

from werk.api.auth import Admin, Reader
from werk.api.params import parse_path
from werk.assets.document import assets_to_data, parse_assets
from werk.assets.model import AssetModel
from werk.assets.paths import is_under
from werk.errors import NotFound, PayloadError
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


@router.get("/assets", operation_id="read_assets", summary="The asset model under a path")
async def read_assets(
    request: Request,
    _: Reader,
    path: Annotated[str | None, Query(description="Asset path (empty: everything).")] = None,
) -> JSONResponse:
    """Return the asset model document: sites, types and instances at or under ``path``."""
    the_path = parse_path(path)
    model = current_assets(request)
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
        used = {(i["type"], i["version"]) for i in data["instances"]}
        data["types"] = [t for t in data["types"] if (t["name"], t["version"]) in used]
    return JSONResponse(json.loads(json.dumps(data)))
