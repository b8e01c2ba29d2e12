"""Keep versioned models on disk and which version each site runs.

Layout under ``<data_dir>/models/<name>/``::

    <version>/model.pkl      the pickled :class:`~werk.ml.train.ModelBundle`
    <version>/meta.json      training window, lineage, metrics, fleet report (readable without
                             unpickling anything)
    promotions.json          {"sites": {site | "*": [version, ...]}}: the last entry is live,
                             earlier ones are what a rollback returns to

Versions are integers counting up per name. Promoting a version for ``*`` makes it the default
for sites without their own promotion. The model file is a pickle: load only registries you
wrote yourself (the registry lives in werk's own data directory).
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from werk.errors import Conflict, NotFound
from werk.ml.train import ModelBundle

ALL_SITES = "*"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One stored version.

    Attributes:
        name: Model name.
        version: Version number.
        created: When it was saved (ISO 8601).
        meta: Its metadata (meta.json).
        live: Sites (or ``*``) running it now.
    """

    name: str
    version: int
    created: str
    meta: dict[str, object]
    live: list[str]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Registry:
    """Versioned models under ``root`` (normally ``<data_dir>/models``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, name: str) -> Path:
        return self.root / name

    def versions(self, name: str) -> list[int]:
        """Return the stored versions of ``name``, oldest first."""
        folder = self._dir(name)
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())

    def names(self) -> list[str]:
        """Return the model names stored."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def save(self, name: str, bundle: ModelBundle) -> int:
        """Store ``bundle`` as the next version of ``name`` and return the version."""
        existing = self.versions(name)
        version = (existing[-1] + 1) if existing else 1
        folder = self._dir(name) / str(version)
        folder.mkdir(parents=True, exist_ok=False)
        created = datetime.now(UTC).isoformat()
        bundle.meta["name"] = name
        bundle.meta["version"] = version
        bundle.meta["created"] = created
        with (folder / "model.pkl").open("wb") as fh:
            pickle.dump(bundle, fh, protocol=pickle.HIGHEST_PROTOCOL)
        _atomic_write(folder / "meta.json", json.dumps(bundle.meta, indent=1, default=str) + "\n")
        return version

    def meta(self, name: str, version: int) -> dict[str, object]:
        """Return the metadata of one version.

        Raises:
            NotFound: no such model or version.
        """
        file = self._dir(name) / str(version) / "meta.json"
        if not file.is_file():
            raise NotFound(f"model {name} has no version {version}", field="version", name=name)
        meta: dict[str, object] = json.loads(file.read_text(encoding="utf-8"))
        return meta

    def load(self, name: str, version: int) -> ModelBundle:
        """Load one version.

        Raises:
            NotFound: no such model or version.
        """
        file = self._dir(name) / str(version) / "model.pkl"
        if not file.is_file():
            raise NotFound(f"model {name} has no version {version}", field="version", name=name)
        with file.open("rb") as fh:
            bundle = pickle.load(fh)
        if not isinstance(bundle, ModelBundle):
            raise NotFound(f"{file} holds no werk model", file=str(file))
        return bundle

    def _promotions(self, name: str) -> dict[str, list[int]]:
        file = self._dir(name) / "promotions.json"
        if not file.is_file():
            return {}
        sites: dict[str, list[int]] = json.loads(file.read_text(encoding="utf-8"))["sites"]
        return sites

    def _write_promotions(self, name: str, sites: dict[str, list[int]]) -> None:
        _atomic_write(
            self._dir(name) / "promotions.json", json.dumps({"sites": sites}, indent=1) + "\n"
        )

    def promote(self, name: str, version: int, site: str = ALL_SITES) -> None:
        """Make ``version`` live for ``site`` (``*``: every site without its own promotion).

        Raises:
            NotFound: no such version.
        """
        self.meta(name, version)
        sites = self._promotions(name)
        history = sites.setdefault(site, [])
        if not history or history[-1] != version:
            history.append(version)
        self._write_promotions(name, sites)

    def rollback(self, name: str, site: str = ALL_SITES) -> int | None:
        """Return ``site`` to the version live before the current one; return it (None: the
        site now falls back to ``*``).

        Raises:
            Conflict: nothing was promoted for ``site``.
        """
        sites = self._promotions(name)
        history = sites.get(site, [])
        if not history:
            raise Conflict(
                f"model {name} has no promotion for site {site} to roll back",
                field="site",
                name=name,
            )
        history.pop()
        if not history:
            del sites[site]
        self._write_promotions(name, sites)
        return history[-1] if history else None

    def live(self, name: str, site: str) -> int | None:
        """Return the version ``site`` runs: its own promotion, else ``*``'s, else None."""
        sites = self._promotions(name)
        for key in (site, ALL_SITES):
            if sites.get(key):
                return sites[key][-1]
        return None

    def list(self, name: str | None = None) -> list[ModelVersion]:
        """Return every stored version (of ``name``, or of all models)."""
        out = []
        for n in [name] if name else self.names():
            live: dict[int, list[str]] = {}
            for site, history in self._promotions(n).items():
                if history:
                    live.setdefault(history[-1], []).append(site)
            for v in self.versions(n):
                meta = self.meta(n, v)
                out.append(
                    ModelVersion(n, v, str(meta.get("created", "")), meta, sorted(live.get(v, [])))
                )
        return out
