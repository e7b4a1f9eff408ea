"""A malformed rubric gets an error that names the file, the question, the check and the field."""

from pathlib import Path

import pytest
import yaml

from grader.rubric.load import RubricError, load_rubric

TOY = Path(__file__).parent / "toycourse"


def write_variant(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((TOY / "rubrics" / "toy.yaml").read_text())
    change(data)
    (tmp_path / "rubrics").mkdir(exist_ok=True)
    path = tmp_path / "rubrics" / "toy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def error_for(tmp_path, change) -> str:
    path = write_variant(tmp_path, change)
    with pytest.raises(RubricError) as info:
        load_rubric(path, course_root=TOY)
    message = str(info.value)
    assert str(path) in message
    return message


def test_unknown_key(tmp_path):
    message = error_for(tmp_path, lambda d: d["questions"][0]["checks"][0].update(tolerence={"rtol": 1}))
    assert "question 1, check public, field tolerence: Extra inputs are not permitted" in message


def test_wrong_type(tmp_path):
    message = error_for(tmp_path, lambda d: d["questions"][1]["checks"][0].update(points="half"))
    assert "question 2, check value, field points" in message and "number" in message


def test_missing_reference_function(tmp_path):
    message = error_for(tmp_path, lambda d: d["questions"][0]["checks"][1].update(reference="scale_it"))
    assert "question 1, check hidden, field reference" in message and "'scale_it'" in message


def test_missing_mistake_module(tmp_path):
    message = error_for(tmp_path, lambda d: d["questions"][0]["checks"][0]["hints"][0].update(
        mistake="no_such_module:f"))
    assert "question 1, check public, field hints[0].mistake" in message and "no_such_module" in message


def test_points_that_do_not_add_up(tmp_path):
    message = error_for(tmp_path, lambda d: d["questions"][0].update(points=3))
    assert "question 1" in message and "add up to 2" in message


def test_undefined_dimension(tmp_path):
    def change(d):
        d["questions"][0]["checks"][1]["cases"][0]["args"][0] = {"normal": ["m"]}
    message = error_for(tmp_path, change)
    assert "question 1, check hidden" in message and "'m'" in message


def test_not_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("questions: [unclosed")
    with pytest.raises(RubricError, match="bad.yaml: not valid YAML"):
        load_rubric(path)


@pytest.mark.parametrize("sheet", ["sheet02", "sheet11"])
def test_bundled_rubrics_load_and_resolve(sheet):
    repo = Path(__file__).resolve().parents[2]
    loaded = load_rubric(repo / "rubrics" / f"{sheet}.yaml")
    assert loaded.rubric.sheet == sheet
