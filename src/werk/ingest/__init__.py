"""The one door through which data enters werk: decode, validate, dedupe, write."""

from werk.ingest.service import Ingest

__all__ = ["Ingest"]
