"""``werk ml`` end to end: train from a history, list, evaluate, promote, score, roll back."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from tests.ml.conftest import load_store
from werk.cli.main import app
from werk.errors import NotFound
from werk.ml.source import Data
from werk.store import open_store


def _run(*args: str) -> object:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_train_list_promote_score_rollback(tmp_path: Path, history_dir: Path, data: Data) -> None:
    models = str(tmp_path / "models")
    trained = _run(
        "ml", "train", "--history", str(history_dir), "--trees", "5", "--models", models, "--json"
    )
    assert isinstance(trained, dict)
    assert trained["version"] == 1
    assert set(trained["fleet"]["sites"]) == {"berlin", "chicago", "shanghai"}
    assert "failure.ap" in trained["metrics"]

    listed = _run("ml", "models", "--models", models, "--json")
    assert isinstance(listed, list)
    assert [(m["name"], m["version"], m["live"]) for m in listed] == [("pdm", 1, "")]

    evaluated = _run("ml", "evaluate", "--models", models, "--json")
    assert isinstance(evaluated, dict)
    assert evaluated["fleet"] == trained["fleet"]
    rescored = _run("ml", "evaluate", "--models", models, "--history", str(history_dir), "--json")
    assert isinstance(rescored, dict)
    assert set(rescored) == {"berlin", "chicago", "shanghai"}
    failure = rescored["berlin"]["failure"]
    assert failure["model"]["rows"] == failure["baseline"]["rows"] > 0

    assert _run("ml", "promote", "1", "--models", models, "--json") == {
        "name": "pdm",
        "site": "*",
        "live": 1,
    }
    url = f"duckdb:///{tmp_path / 'werk.duckdb'}"
    store = open_store(url)
    load_store(store, data, days=3)
    store.close()
    now = (data.end - timedelta(days=1, hours=6)).isoformat()
    scored = _run("ml", "score", "--models", models, "--store", url, "--now", now, "--json")
    assert isinstance(scored, list)
    assert {s["site"] for s in scored} == {
        "autowerk/berlin",
        "autowerk/chicago",
        "autowerk/shanghai",
    }
    assert all(len(s["predictions"]) == 10 for s in scored)

    assert _run("ml", "rollback", "--models", models, "--json") == {
        "name": "pdm",
        "site": "*",
        "live": None,
    }


def test_errors_exit_with_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ml", "promote", "3", "--models", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, NotFound)
    assert "no version 3" in str(result.exception)
