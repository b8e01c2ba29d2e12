"""Run every Python example in docs/*.md against a live server, so the docs cannot rot.

Each guide gets its own fresh server and its examples run in the order a reader meets them (a
later example may read what an earlier one created); one guide never sees another's data.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_crash import ADMIN, Server

DOCS = Path(__file__).parent.parent / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
GUIDES = [
    pytest.param(doc, id=doc.name)
    for doc in sorted(DOCS.glob("*.md"))
    if BLOCK.search(doc.read_text())
]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Server]:
    server = Server(f"duckdb:///{tmp_path / 'werk.duckdb'}", tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("doc", GUIDES)
def test_doc_examples_run_in_order(live: Server, doc: Path) -> None:
    env = {**os.environ, "WERK_URL": live.url, "WERK_API_KEY": ADMIN}
    for index, code in enumerate(BLOCK.findall(doc.read_text())):
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{doc.name} example {index} failed:\n{result.stderr}"
