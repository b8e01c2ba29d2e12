"""Convert the asset model to and from Asset Administration Shells (IDTA), as JSON or AASX bytes.

One shell per equipment instance (``assetKind: Instance``, ``derivedFrom`` its type's shell), one
shell per equipment type version (``assetKind: Type``) and one per site. Each carries submodels:

* ``Nameplate`` — IDTA 02006-3-0 Digital Nameplate (semanticId
  ``https://admin-shell.io/idta/nameplate/3/0/Nameplate``): ``ManufacturerName`` (the type's
  vendor), ``ManufacturerProductDesignation``, ``ManufacturerProductFamily``, ``URIOfTheProduct``
  and, for instances, ``SerialNumber``;
* ``TimeSeries`` (instances) — IDTA 02008 Time Series Data 1.1 structure: ``Metadata`` with a
  ``Record`` naming each signal (its unit in an IEC 61360 data specification) and ``Segments``
  holding one ``LinkedSegment`` per signal whose ``Endpoint`` and ``Query`` read it from werk's
  ``GET /api/v1/range``;
* ``WerkInstance`` / ``WerkType`` / ``WerkSite`` — what werk needs to rebuild the model exactly:
  path, type and version, ideal cycle times per product, signals, state-mapping overrides and
  the site calendar (JSON text: shifts, breaks, holidays and maintenance have no IDTA template).

Import reads those submodels back (the serial number from the nameplate) and validates the result
like an asset model document; every error names the file and the element's idShort path
(``press-01/WerkInstance/Version``). Pure: bytes in, bytes out.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlencode

from basyx.aas import model as aas
from basyx.aas.adapter import aasx
from basyx.aas.adapter.json import read_aas_json_file, write_aas_json_file

from werk.assets.document import assets_from_data, assets_to_data
from werk.assets.model import AssetModel, EquipmentType, Instance
from werk.errors import ConfigError

NAMEPLATE: Final = "https://admin-shell.io/idta/nameplate/3/0/Nameplate"
TIME_SERIES: Final = "https://admin-shell.io/idta/TimeSeries/1/1"
_TS: Final = "https://admin-shell.io/idta/TimeSeries/"
IEC61360: Final = "https://admin-shell.io/DataSpecificationTemplates/DataSpecificationIEC61360/3/0"
WERK: Final = "urn:werk:semantic:"
AASX_MEDIA_TYPE: Final = "application/asset-administration-shell-package+xml"
_KEY: Final = "assets.aas"


# -- export ---------------------------------------------------------------------------------


def _ref(iri: str) -> aas.ExternalReference:
    return aas.ExternalReference((aas.Key(aas.KeyTypes.GLOBAL_REFERENCE, iri),))


def _id_short(text: str) -> str:
    """Return an idShort (AASd-002: a letter first, then letters, digits, ``_`` and ``-``)."""
    out = re.sub(r"[^A-Za-z0-9_-]", "_", text)
    if not out or not out[0].isalpha():
        out = "x" + out
    return out.rstrip("-") or "x"


def _prop(id_short: str, value: object, semantic: str | None = None) -> aas.Property:
    kind: type = aas.datatypes.String
    if isinstance(value, bool):
        kind = aas.datatypes.Boolean
    elif isinstance(value, int):
        kind = aas.datatypes.Int
    elif isinstance(value, float):
        kind = aas.datatypes.Double
    return aas.Property(id_short, kind, value, semantic_id=_ref(semantic) if semantic else None)


def _text(id_short: str, value: str, semantic: str | None = None) -> aas.MultiLanguageProperty:
    return aas.MultiLanguageProperty(
        id_short,
        aas.MultiLanguageTextType({"en": value}),
        semantic_id=_ref(semantic) if semantic else None,
    )


def _smc(
    id_short: str | None, elements: Iterable[aas.SubmodelElement], semantic: str | None = None
) -> aas.SubmodelElementCollection:
    return aas.SubmodelElementCollection(
        id_short, list(elements), semantic_id=_ref(semantic) if semantic else None
    )


def _cycles(cycles: Mapping[str, Any]) -> aas.SubmodelElementList[aas.SubmodelElementCollection]:
    return aas.SubmodelElementList(
        "IdealCycles",
        aas.SubmodelElementCollection,
        [
            _smc(None, [_prop("Product", p), _prop("Seconds", float(s.total_seconds()))])
            for p, s in sorted(cycles.items())
        ],
    )


def _files() -> aasx.DictSupplementaryFileContainer:
    return aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]


def _submodel(
    id_: str, id_short: str, semantic: str, elements: list[aas.SubmodelElement]
) -> aas.Submodel:
    return aas.Submodel(id_, elements, id_short=id_short, semantic_id=_ref(semantic))


def _shell(
    id_: str,
    id_short: str,
    kind: aas.AssetKind,
    submodels: list[aas.Submodel],
    derived: str | None = None,
) -> aas.AssetAdministrationShell:
    return aas.AssetAdministrationShell(
        aas.AssetInformation(kind, global_asset_id=id_.replace(":aas:", ":asset:", 1)),
        id_,
        id_short=id_short,
        submodel={aas.ModelReference.from_referable(s) for s in submodels},
        derived_from=(
            aas.ModelReference(
                (aas.Key(aas.KeyTypes.ASSET_ADMINISTRATION_SHELL, derived),),
                aas.AssetAdministrationShell,
            )
            if derived
            else None
        ),
    )


def shell_id(path: str) -> str:
    """Return the shell id of the instance at ``path``."""
    return f"urn:werk:aas:{path}"


def type_shell_id(t: EquipmentType) -> str:
    """Return the shell id of a type version."""
    return f"urn:werk:aas:type:{t.name}:{t.version}"


def _nameplate(owner: str, t: EquipmentType, serial: str | None) -> aas.Submodel:
    elements: list[aas.SubmodelElement] = [
        _prop("URIOfTheProduct", type_shell_id(t).replace(":aas:", ":asset:", 1)),
        _text("ManufacturerProductDesignation", f"{t.name} (version {t.version})"),
        _text("ManufacturerProductFamily", t.name),
    ]
    if t.vendor is not None:
        elements.insert(1, _text("ManufacturerName", t.vendor))
    if serial is not None:
        elements.append(_prop("SerialNumber", serial))
    return _submodel(f"{owner}:sm:nameplate", "Nameplate", NAMEPLATE, elements)


def _time_series(owner: str, inst: Instance, t: EquipmentType, endpoint: str) -> aas.Submodel:
    record = [_prop("Time", "", _TS + "UtcTime/1/1")]
    for s in t.signals:
        p = _prop(_id_short(s.name), "")
        p.embedded_data_specifications = [
            aas.EmbeddedDataSpecification(
                _ref(IEC61360),
                aas.DataSpecificationIEC61360(
                    aas.PreferredNameTypeIEC61360({"en": s.name}), unit=s.unit or None
                ),
            )
        ]
        record.append(p)
    segments = [
        _smc(
            _id_short(s.name),
            [
                _text("Name", s.name),
                _text("Description", f"{s.name} of {inst.path} ({s.unit or 'no unit'})"),
                _prop("Endpoint", endpoint, _TS + "Endpoint/1/1"),
                _prop("Query", urlencode({"path": inst.path, "signal": s.name}), _TS + "Query/1/1"),
            ],
            _TS + "Segments/LinkedSegment/1/1",
        )
        for s in t.signals
    ]
    metadata = _smc(
        "Metadata",
        [_text("Name", inst.path), _smc("Record", record, _TS + "Record/1/1")],
        _TS + "Metadata/1/1",
    )
    return _submodel(
        f"{owner}:sm:timeseries",
        "TimeSeries",
        TIME_SERIES,
        [metadata, _smc("Segments", segments, _TS + "Segments/1/1")],
    )


def _objects(model: AssetModel, endpoint: str) -> list[aas.Identifiable]:
    data = assets_to_data(model)
    out: list[aas.Identifiable] = []
    for site, doc in zip(model.sites, data["sites"], strict=True):
        sid = f"urn:werk:aas:site:{site.path}"
        calendar = {k: v for k, v in doc.items() if k not in ("path", "timezone")}
        werk = _submodel(
            f"{sid}:sm:werk",
            "WerkSite",
            WERK + "site:1",
            [
                _prop("Path", site.path),
                _prop("TimeZone", site.tz),
                _prop("Calendar", json.dumps(calendar, sort_keys=True)),
            ],
        )
        out += [
            werk,
            _shell(sid, _id_short(site.path.rsplit("/", 1)[-1]), aas.AssetKind.INSTANCE, [werk]),
        ]
    for t in model.types:
        tid = type_shell_id(t)
        elements: list[aas.SubmodelElement] = [_prop("Name", t.name), _prop("Version", t.version)]
        if t.vendor is not None:
            elements.append(_prop("Vendor", t.vendor))
        signals = [
            _smc(
                None,
                [_prop("Name", s.name), _prop("Unit", s.unit)]
                + ([_prop("Low", float(s.low))] if s.low is not None else [])
                + ([_prop("High", float(s.high))] if s.high is not None else []),
            )
            for s in t.signals
        ]
        elements.append(aas.SubmodelElementList("Signals", aas.SubmodelElementCollection, signals))
        elements.append(_cycles(t.ideal_cycles))
        if t.state_mapping is not None:
            elements.append(_prop("StateMapping", json.dumps(t.state_mapping, sort_keys=True)))
        werk = _submodel(f"{tid}:sm:werk", "WerkType", WERK + "type:1", elements)
        plate = _nameplate(tid, t, None)
        out += [
            werk,
            plate,
            _shell(tid, _id_short(f"{t.name}_v{t.version}"), aas.AssetKind.TYPE, [werk, plate]),
        ]
    for inst in model.instances:
        t = model.type_of(inst)
        iid = shell_id(inst.path)
        werk = _submodel(
            f"{iid}:sm:werk",
            "WerkInstance",
            WERK + "instance:1",
            [
                _prop("Path", inst.path),
                _prop("Type", inst.type),
                _prop("Version", inst.version),
                _cycles(inst.ideal_cycles),
            ],
        )
        subs = [werk, _nameplate(iid, t, inst.serial), _time_series(iid, inst, t, endpoint)]
        name = _id_short(inst.path.rsplit("/", 1)[-1])
        out += [*subs, _shell(iid, name, aas.AssetKind.INSTANCE, subs, type_shell_id(t))]
    return out


def to_aas_json(model: AssetModel, endpoint: str = "/api/v1/range") -> bytes:
    """Return the asset model as an AAS JSON environment.

    Args:
        model: The asset model.
        endpoint: Where a time-series segment reads its signal (werk's range URL).
    """
    buffer = io.StringIO()
    write_aas_json_file(buffer, aas.DictIdentifiableStore(_objects(model, endpoint)))
    return buffer.getvalue().encode()


def to_aasx(model: AssetModel, endpoint: str = "/api/v1/range") -> bytes:
    """Return the asset model as an AASX package (the JSON environment inside)."""
    objects = aas.DictIdentifiableStore(_objects(model, endpoint))
    shells = [o.id for o in objects if isinstance(o, aas.AssetAdministrationShell)]
    buffer = io.BytesIO()
    with aasx.AASXWriter(buffer) as writer:
        writer.write_aas(shells, objects, _files(), write_json=True)
    return buffer.getvalue()


# -- import ---------------------------------------------------------------------------------


class _Reader:
    """Read werk's submodels back, naming each missing or wrong element by its idShort path."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, message: str, where: str) -> ConfigError:
        return ConfigError(message, key=_KEY, file=self.file, field=where)

    def value(
        self, parent: Iterable[aas.SubmodelElement], name: str, where: str, *, required: bool = True
    ) -> Any:
        """Return the value of element ``name`` (a Property's value, a text's English value)."""
        found = next((e for e in parent if e.id_short == name), None)
        if found is None:
            if required:
                raise self.error(f"element {name} is missing", f"{where}/{name}")
            return None
        if isinstance(found, aas.Property):
            return found.value
        if isinstance(found, aas.MultiLanguageProperty):
            texts = dict(found.value or {})
            return texts.get("en", next(iter(texts.values()), None))
        if isinstance(found, aas.SubmodelElementList | aas.SubmodelElementCollection):
            return found
        raise self.error(f"element {name} has an unexpected kind", f"{where}/{name}")

    def text(self, parent: Iterable[aas.SubmodelElement], name: str, where: str) -> str:
        value = self.value(parent, name, where)
        if not isinstance(value, str) or not value:
            raise self.error(f"{name} must be a non-empty string", f"{where}/{name}")
        return value

    def json(self, parent: Iterable[aas.SubmodelElement], name: str, where: str) -> Any:
        value = self.value(parent, name, where, required=False)
        if value is None:
            return None
        try:
            return json.loads(str(value))
        except json.JSONDecodeError as exc:
            raise self.error(f"{name} is not JSON: {exc.msg}", f"{where}/{name}") from None

    def items(
        self, parent: Iterable[aas.SubmodelElement], name: str, where: str
    ) -> list[tuple[str, list[aas.SubmodelElement]]]:
        value = self.value(parent, name, where, required=False)
        if value is None:
            return []
        if not isinstance(value, aas.SubmodelElementList):
            raise self.error(f"{name} must be a list", f"{where}/{name}")
        out = []
        for k, item in enumerate(value):
            if not isinstance(item, aas.SubmodelElementCollection):
                raise self.error("each entry must be a collection", f"{where}/{name}[{k}]")
            out.append((f"{where}/{name}[{k}]", list(item.value)))
        return out

    def cycles(self, parent: Iterable[aas.SubmodelElement], where: str) -> dict[str, object]:
        return {
            self.text(item, "Product", at): self.value(item, "Seconds", at)
            for at, item in self.items(parent, "IdealCycles", where)
        }


def _read(data: bytes, file: str) -> aas.DictIdentifiableStore[aas.Identifiable]:
    """Parse AAS JSON or AASX bytes strictly (a defective object is an error, not skipped)."""
    try:
        if data[:2] == b"PK":
            store: aas.DictIdentifiableStore[aas.Identifiable] = aas.DictIdentifiableStore()
            with aasx.AASXReader(io.BytesIO(data), failsafe=False) as reader:
                reader.read_into(store, _files())
            return store
        return read_aas_json_file(io.StringIO(data.decode("utf-8")), failsafe=False)
    except ConfigError:
        raise
    except Exception as exc:  # basyx raises KeyError, TypeError, ValueError, constraint errors
        kind = "AASX package" if data[:2] == b"PK" else "AAS JSON environment"
        raise ConfigError(f"not a valid {kind}: {exc}", key=_KEY, file=file) from exc


Entry = tuple[dict[str, Any], dict[str, str]]
"""A document entry (site, type or instance) and the idShort path of each of its fields."""


def _elements(sm: aas.Submodel) -> list[aas.SubmodelElement]:
    return list(sm.submodel_element)


def _site_entry(r: _Reader, at: str, sm: list[aas.SubmodelElement]) -> Entry:
    calendar = r.json(sm, "Calendar", at) or {}
    if not isinstance(calendar, dict):
        raise r.error("Calendar must be a JSON object", f"{at}/Calendar")
    doc = {"path": r.text(sm, "Path", at), "timezone": r.text(sm, "TimeZone", at), **calendar}
    where = {"": f"{at}/Calendar", "path": f"{at}/Path", "timezone": f"{at}/TimeZone"}
    return doc, where


def _type_entry(r: _Reader, at: str, sm: list[aas.SubmodelElement]) -> Entry:
    doc: dict[str, Any] = {
        "name": r.text(sm, "Name", at),
        "version": r.value(sm, "Version", at),
        "signals": [],
        "ideal_cycles": r.cycles(sm, at),
    }
    vendor = r.value(sm, "Vendor", at, required=False)
    if vendor is not None:
        doc["vendor"] = vendor
    mapping = r.json(sm, "StateMapping", at)
    if mapping is not None:
        doc["state_mapping"] = mapping
    where = {"": at, "name": f"{at}/Name", "version": f"{at}/Version"}
    where |= {"ideal_cycles": f"{at}/IdealCycles", "state_mapping": f"{at}/StateMapping"}
    where["signals"] = f"{at}/Signals"
    for k, (sat, item) in enumerate(r.items(sm, "Signals", at)):
        signal = {"name": r.text(item, "Name", sat), "unit": r.value(item, "Unit", sat) or ""}
        for key, element in (("low", "Low"), ("high", "High")):
            v = r.value(item, element, sat, required=False)
            if v is not None:
                signal[key] = v
        doc["signals"].append(signal)
        where[f"signals[{k}]"] = sat
    return doc, where


def _instance_entry(
    r: _Reader, at: str, sm: list[aas.SubmodelElement], plate: aas.Submodel | None, name: str
) -> Entry:
    doc = {
        "path": r.text(sm, "Path", at),
        "type": r.text(sm, "Type", at),
        "version": r.value(sm, "Version", at),
        "ideal_cycles": r.cycles(sm, at),
    }
    where = {"": at, "path": f"{at}/Path", "type": f"{at}/Type", "version": f"{at}/Version"}
    where["ideal_cycles"] = f"{at}/IdealCycles"
    if plate is not None:
        serial = r.value(_elements(plate), "SerialNumber", f"{name}/Nameplate", required=False)
        if serial is not None:
            doc["serial"] = serial
            where["serial"] = f"{name}/Nameplate/SerialNumber"
    return doc, where


def from_aas(data: bytes, file: str = "<AAS>") -> AssetModel:
    """Read an asset model from AAS JSON or AASX bytes written by :func:`to_aas_json` /
    :func:`to_aasx` (or edited elsewhere: the serial number comes from the nameplate).

    Raises:
        ConfigError: naming ``file`` and the element's idShort path in ``field``.
    """
    store = _read(data, file)
    r = _Reader(file)
    groups: dict[str, list[Entry]] = {"sites": [], "types": [], "instances": []}
    shells = [o for o in store if isinstance(o, aas.AssetAdministrationShell)]
    for shell in sorted(shells, key=lambda s: s.id):
        name = shell.id_short or shell.id
        subs: dict[str, aas.Submodel] = {}
        for ref in shell.submodel:
            try:
                sm = ref.resolve(store)
            except KeyError:
                raise r.error(f"submodel {ref.key[-1].value} is not in the file", name) from None
            subs[sm.id_short or ""] = sm
        if "WerkSite" in subs:
            entry = _site_entry(r, f"{name}/WerkSite", _elements(subs["WerkSite"]))
            groups["sites"].append(entry)
        elif "WerkType" in subs:
            entry = _type_entry(r, f"{name}/WerkType", _elements(subs["WerkType"]))
            groups["types"].append(entry)
        elif "WerkInstance" in subs:
            at = f"{name}/WerkInstance"
            sm_elements = _elements(subs["WerkInstance"])
            entry = _instance_entry(r, at, sm_elements, subs.get("Nameplate"), name)
            groups["instances"].append(entry)
    if not any(groups.values()):
        raise ConfigError(
            f"no werk shells found among {len(shells)} shells: a site, type or machine shell "
            "carries a WerkSite, WerkType or WerkInstance submodel",
            key=_KEY,
            file=file,
        )
    # The same order as a merged model: sites and instances by path, types by name and version.
    groups["sites"].sort(key=lambda e: str(e[0]["path"]))
    groups["types"].sort(key=lambda e: (str(e[0]["name"]), str(e[0]["version"])))
    groups["instances"].sort(key=lambda e: str(e[0]["path"]))
    where_of: dict[str, str] = {}
    for group, entries in groups.items():
        for n, (_, where) in enumerate(entries):
            for k, v in where.items():
                where_of[f"{group}[{n}]" + (f".{k}" if k else "")] = v
    document = {group: [doc for doc, _ in entries] for group, entries in groups.items()}
    try:
        return assets_from_data(document, file)
    except ConfigError as exc:
        field = str(exc.fields.get("field", ""))
        raise r.error(exc.message, _element(field, where_of)) from None


def _element(field: str, where_of: Mapping[str, str]) -> str:
    """Return the idShort path of a document field (``instances[2].version``), with the rest of
    the field in brackets where no element holds it alone (a calendar's shifts)."""
    best = ""
    for key in where_of:
        hit = field == key or field.startswith((key + ".", key + "["))
        if hit and len(key) > len(best):
            best = key
    if not best:
        return field
    rest = field[len(best) :].lstrip(".")
    return where_of[best] + (f" ({rest})" if rest else "")
