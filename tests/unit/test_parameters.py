"""The notebook parameters' one declaration, held to the notebooks and to what is derived from it.

The notebooks' parameters cells are read as code (their ``ast``), not run.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
from pathlib import Path

import pytest

import labkit
from labkit import i18n
from labkit.batch.command import register_cli
from labkit.batch.parameters import load_parameter_file, parameters_from_args
from labkit.classroom import check as class_check
from labkit.config import LabConfig
from labkit.errors import LabError
from labkit.parameters import BY_NAME, DEFAULTS, NAMES, PARAMETERS, SHARED, as_flags

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The Korean notebooks (written by `python3 tasks.py translate`): the same parameters cells,
# with their language as the default of `lang`.
KOREAN = sorted((ROOT / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb"))


def notebook_id(path: Path) -> str:
    return ("ko/" if path.parent.name == "ko" else "") + path.name[:2]


def declared_default(path: Path, name: str) -> object:
    """The default *path*'s parameters cell must give *name*."""
    if name == "lang" and path.parent.name == "ko":
        return "ko"
    return BY_NAME[name].default


def parameters_cell(path: Path) -> dict[str, object]:
    """name -> value of every assignment in *path*'s cell tagged ``parameters``."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    [cell] = [c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", [])]
    tree = ast.parse("".join(cell["source"]))
    values = {}
    for statement in tree.body:
        assert isinstance(statement, ast.Assign), ast.unparse(statement)
        [target] = statement.targets
        values[target.id] = ast.literal_eval(statement.value)
    return values


def test_the_notebooks_are_found():
    assert [p.name[:2] for p in NOTEBOOKS] == [f"0{n}" for n in range(10)]


@pytest.mark.parametrize("path", [*NOTEBOOKS, *KOREAN], ids=notebook_id)
def test_each_notebooks_parameters_cell_is_the_declaration(path):
    cell = parameters_cell(path)
    number = path.name[:2]
    undeclared = sorted(set(cell) - set(NAMES))
    assert not undeclared, f"{path.name} sets parameters labkit.parameters does not declare"
    for name, value in cell.items():
        default = declared_default(path, name)
        # The type too: False == 0, but a bool parameter is a switch, an int one a number.
        assert (type(value), value) == (type(default), default), (path.name, name)
    missing = [p.name for p in PARAMETERS if p.taken_by(number) and p.name not in cell]
    assert not missing, f"{path.name} lacks parameters it should take"
    extra = [name for name in cell if not BY_NAME[name].taken_by(number)]
    assert not extra, f"{path.name} sets parameters declared for other notebooks only"


def test_the_declaration_reaches_every_notebook_parameter():
    """Each declared parameter is in some notebook (none is left over in the declaration)."""
    used = {name for path in NOTEBOOKS for name in parameters_cell(path)}
    assert set(NAMES) == used


def test_start_takes_the_shared_parameters_with_their_declared_defaults():
    signature = inspect.signature(labkit.start)
    explicit = {name: p.default for name, p in signature.parameters.items()
                if p.kind is not inspect.Parameter.VAR_KEYWORD and name != "step"}
    assert explicit == {name: DEFAULTS[name] for name in SHARED}
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())


def test_lab_config_holds_the_shared_parameters_with_their_declared_defaults():
    fields = {f.name: f.default for f in dataclasses.fields(LabConfig)
              if f.name != "known_regions"}
    assert fields == {name: DEFAULTS[name] for name in SHARED}


def test_the_shared_parameters_are_the_ones_every_notebook_takes():
    assert SHARED == ("target", "region", "student", "slack_channel", "webhook_env",
                      "expected_account_id", "lang")


# -- unknown parameters ------------------------------------------------------------------------
def test_a_misspelt_parameter_of_start_names_the_nearest_one():
    with pytest.raises(LabError) as refused:
        labkit.start(studnet="kim")
    assert "'studnet'" in refused.value.what and "labkit.start()" in refused.value.what
    assert "did you mean 'student'?" in refused.value.todo


def test_the_unknown_parameter_error_comes_in_korean_too():
    try:
        with pytest.raises(LabError) as refused:
            labkit.start(lang="ko", studnet="kim")
    finally:
        i18n.set_language("en")
    assert "알 수 없는 파라미터" in refused.value.what and "'studnet'" in refused.value.what
    assert refused.value.todo == "'studnet': 혹시 'student'을(를) 쓰려고 하셨나요?"


def test_a_parameter_nothing_is_close_to_lists_the_valid_ones():
    with pytest.raises(LabError) as refused:
        labkit.start(colour="red")
    assert "did you mean" not in refused.value.todo
    for name in ("target", "student", "bastion_cpu", "alarm_period", "lang", "step"):
        assert name in refused.value.todo


def test_a_misspelt_key_of_the_parameter_file_names_the_nearest_one(tmp_path):
    params = tmp_path / "lab.yaml"
    params.write_text("target: aws\nregoin: eu-west-1\nslack-chanel: alerts\n")

    with pytest.raises(LabError) as refused:
        load_parameter_file(params)
    assert str(params) in refused.value.what
    assert "'regoin': did you mean 'region'?" in refused.value.todo
    assert "'slack_chanel': did you mean 'slack_channel'?" in refused.value.todo


def test_the_parameter_file_takes_every_declared_parameter(tmp_path):
    params = tmp_path / "lab.yaml"
    params.write_text("bastion_instance_id: i-0123\nbastion-launch: true\nalarm_period: 60\n")
    assert load_parameter_file(params) == {"bastion_instance_id": "i-0123",
                                           "bastion_launch": True, "alarm_period": 60}


# -- the command lines -------------------------------------------------------------------------
def subcommand(name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit")
    subparsers = parser.add_subparsers(dest="command", required=True)
    register_cli(subparsers)
    class_check.register_cli(subparsers)
    return subparsers.choices[name]


def flags_of(parser: argparse.ArgumentParser) -> dict[str, tuple]:
    """option -> (dest, metavar, choices, type, const) of every flag."""
    return {action.option_strings[-1]: (action.dest, action.metavar,
                                        tuple(action.choices) if action.choices else None,
                                        action.type, action.const)
            for action in parser._actions if action.option_strings}


# The notebook-parameter flags as `labkit run` and `labkit catch-up` have always spelt them.
RUN_FLAGS = {
    "--target": ("target", None, ("local", "aws"), None, None),
    "--region": ("region", None, None, None, None),
    "--student": ("student", None, None, None, None),
    "--slack-channel": ("slack_channel", "CHANNEL", None, None, None),
    "--webhook-env": ("webhook_env", "VAR", None, None, None),
    "--expected-account-id": ("expected_account_id", "ID", None, None, None),
    "--bastion-cpu": ("bastion_cpu", None, ("measured", "scripted"), None, None),
    "--bastion-vcpus": ("bastion_vcpus", "N", None, int, None),
    "--alarm-quick-test": ("alarm_quick_test", None, None, None, True),
    "--lang": ("lang", None, ("en", "ko"), None, None),
    "--params": ("params", "FILE.yaml", None, None, None),
}


@pytest.mark.parametrize("command", ["run", "catch-up"])
def test_run_and_catch_up_keep_their_parameter_flags(command):
    flags = flags_of(subcommand(command))
    assert {option: flags[option] for option in RUN_FLAGS} == RUN_FLAGS
    # Only these: the parameters without a flag are set in a --params file.
    parameter_options = {o for o, spec in flags.items() if spec[0] in NAMES}
    assert parameter_options == set(RUN_FLAGS) - {"--params"}


def test_check_keeps_its_parameter_flags():
    flags = flags_of(subcommand("check"))
    assert {option: flags[option] for option in ("--target", "--region", "--student",
                                                 "--slack-channel", "--webhook-env",
                                                 "--expected-account-id", "--lang")} == {
        option: spec for option, spec in RUN_FLAGS.items()
        if option not in ("--bastion-cpu", "--bastion-vcpus", "--alarm-quick-test", "--params")}


def test_flags_written_from_parameters_read_back_as_the_same_parameters():
    given = {"target": "aws", "region": "eu-west-1", "student": "kim", "slack_channel": "alerts",
             "webhook_env": "CLASS_HOOK", "expected_account_id": "123456789012",
             "bastion_vcpus": 4, "bastion_cpu": "scripted", "alarm_quick_test": True,
             "lang": "ko"}
    assert {p.name for p in PARAMETERS if p.flag} == set(given)  # every flag is tried
    args = argparse.ArgumentParser(prog="labkit")
    register_cli(args.add_subparsers(dest="command", required=True))
    assert parameters_from_args(args.parse_args(["run", *as_flags(given)])) == given


def test_flags_leave_out_what_is_unset_and_refuse_what_has_no_flag():
    assert as_flags({"region": None, "alarm_quick_test": False, "student": "kim"}) == [
        "--student", "kim"]
    with pytest.raises(ValueError):
        as_flags({"alarm_period": 60})
    with pytest.raises(ValueError):
        as_flags({"colour": "red"})
