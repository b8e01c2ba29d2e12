"""Run every Python example in docs/*.md against a live server, so the docs cannot rot."""

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
EXAMPLES = [
    # One doc's examples build on each other (create, then read): keep them on one worker, in order.
    pytest.param(
        doc, index, code, id=f"{doc.name}#{index}", marks=pytest.mark.xdist_group(doc.name)
    )
    for doc in sorted(DOCS.glob("*.md"))
    for index, code in enumerate(BLOCK.findall(doc.read_text()))
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("docs")
    server = Server(f"duckdb:///{data / 'werk.duckdb'}", data)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize(("doc", "index", "code"), EXAMPLES)
def test_doc_example_runs(live: Server, doc: Path, index: int, code: str) -> None:
    env = {**os.environ, "WERK_URL": live.url, "WERK_API_KEY": ADMIN}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{doc.name} example {index} failed:\n{result.stderr}"
