"""Read MES and other exports dropped into a folder: CSV and JSON, each file exactly once."""

from __future__ import annotations

from werk.connectors.base import Connector, Source, SourceConfig
from werk.connectors.files.config import FilesConfig
from werk.connectors.files.source import FilesSource


def _open(config: SourceConfig) -> Source:
    if not isinstance(config, FilesConfig):
        raise TypeError(f"files connector needs a FilesConfig, got {type(config).__name__}")
    return FilesSource(config)


CONNECTOR = Connector(name="files", config=FilesConfig, open=_open)

__all__ = ["CONNECTOR", "FilesConfig", "FilesSource"]
