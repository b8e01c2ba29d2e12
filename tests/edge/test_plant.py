"""Plant files: templates expanded, every problem reported with its line and field."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from werk.cli.main import app
from werk.connectors.files import FilesConfig
from werk.edge.plant import check_plant, load_plant

GOOD = """\
plant: acme/wob
edge: wob-1
templates:
  press-v2:
    points:
      - {signal: spindle_temp, unit: degC, column: "{unit}_temp", expected_interval_s: 1}
      - {signal: state, column: "{unit}_state", role: state, states: {"1": executing}}
sources:
  - name: mes
    type: files
    folder: drop
    devices:
      - path: acme/wob/body/line-1/press-01
        template: press-v2
        vars: {unit: u3}
        points:
          - {signal: energy, column: "{path}"}
"""

BAD = """\
plant: acme/wob
edge: wob-1
templates:
  press-v2:
    points:
      - {signal: Bad, column: x}
sources:
  - name: mes
    type: files
    folder: drop
    devices:
      - path: acme/wob/body/line-1/press-01
        template: press-v2
      - path: acme/wob/body/line-1/press-02
        template: press-v9
      - path: acme/other/body/line-1/press-03
        points:
          - {signal: temp, column: "{nope}"}
          - {signal: temp, column: y, unit: 3, bogus: 1}
  - name: x
    type: nonsense
"""


def test_templates_expand_with_vars_and_path(tmp_path: Path) -> None:
    file = tmp_path / "plant.yaml"
    file.write_text(GOOD, encoding="utf-8")
    plant = load_plant(file)
    source = plant.sources[0]
    assert isinstance(source, FilesConfig)
    assert source.folder == tmp_path / "drop"  # relative to the plant file
    points = {p.signal: p for p in plant.points()}
    assert points["spindle_temp"].column == "u3_temp"  # type: ignore[attr-defined]
    assert points["energy"].column == "acme/wob/body/line-1/press-01"  # type: ignore[attr-defined]
    assert {p.path for p in points.values()} == {"acme/wob/body/line-1/press-01"}


def test_every_problem_has_line_and_field(tmp_path: Path) -> None:
    file = tmp_path / "plant.yaml"
    file.write_text(BAD, encoding="utf-8")
    plant, problems = check_plant(file)
    assert plant is None
    found = {(p.line, p.field) for p in problems}
    assert found == {
        (15, "sources[0].devices[1].template"),  # unknown template
        (16, "sources[0].devices[2].path"),  # not under the plant
        (18, "sources[0].devices[2].points[0]"),  # {nope} undefined
        (6, "sources[0].devices[0].points[0].signal"),  # bad signal, from the template
        (19, "sources[0].devices[2].points[1].unit"),
        (19, "sources[0].devices[2].points[1].bogus"),
        (21, "sources[1].type"),  # unknown connector
    }


def test_duplicate_points_and_keys(tmp_path: Path) -> None:
    file = tmp_path / "plant.yaml"
    file.write_text(GOOD + "          - {signal: energy, column: other}\n", encoding="utf-8")
    _, problems = check_plant(file)
    assert [p.key for p in problems] == ["edge.duplicate_point"]
    file.write_text("plant: acme/wob\nedge: e\nedge: f\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["edge", "validate", str(file)])
    assert result.exit_code != 0
    assert "twice" in str(result.exception) or "twice" in result.output


def test_cli_validate_lists_all_problems(tmp_path: Path) -> None:
    file = tmp_path / "plant.yaml"
    file.write_text(BAD, encoding="utf-8")
    result = CliRunner().invoke(app, ["edge", "validate", str(file), "--json"])
    assert result.exit_code != 0
    assert result.output.count('"line"') == 7
