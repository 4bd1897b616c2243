"""labkit's messages exist in English and Korean, and the ``lang`` parameter chooses them."""

from __future__ import annotations

import argparse
import json
import re
import string
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import NoCredentialsError

import labkit
from labkit import i18n
from labkit.aws import Identity
from labkit.checks.report import CheckReport
from labkit.config import LabConfig, check_lang
from labkit.errors import LabError, explain
from labkit.lab import Lab
from labkit.batch.command import register_cli
from labkit.batch.parameters import PARAMETER_NAMES, parameters_from_args

PACKAGE = Path(labkit.__file__).resolve().parent
LOCALE = PACKAGE / "locale"
HANGUL = re.compile("[\uac00-\ud7a3]")
REGIONS = ["ap-northeast-1", "ap-northeast-2", "us-east-1"]
# t("key" ...) or i18n.t("key" ...), the key possibly on the next line.
_T_CALL = re.compile(r"\bt\(\s*[\"']([\w.-]+)[\"']")


@pytest.fixture(autouse=True)
def english_afterwards():
    """The language is process-wide: put English back for the tests that follow."""
    yield
    i18n.set_language("en")


def files(lang: str) -> dict[str, dict[str, str]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((LOCALE / lang).glob("*.json"))}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


# -- the catalogues ------------------------------------------------------------------------------
def test_both_languages_have_the_same_files_and_keys():
    en, ko = files("en"), files("ko")
    assert sorted(en) == sorted(ko)
    assert "messages.json" in en and "checks.json" in en
    for name in en:
        assert sorted(set(en[name]) - set(ko[name])) == [], f"missing in ko/{name}"
        assert sorted(set(ko[name]) - set(en[name])) == [], f"missing in en/{name}"


@pytest.mark.parametrize("lang", sorted(i18n.LANGUAGES))
def test_no_key_is_defined_in_two_files(lang):
    # The files are merged into one catalogue: a second definition would silently win.
    seen: dict[str, str] = {}
    for name, messages in files(lang).items():
        for key in messages:
            assert key not in seen, f"{key!r} is in both {seen[key]} and {name}"
            seen[key] = name


def test_each_message_has_the_same_fields_in_both_languages():
    ko = i18n.catalogue("ko")
    different = {key: (fields(text), fields(ko[key]))
                 for key, text in i18n.catalogue("en").items()
                 if key in ko and fields(text) != fields(ko[key])}
    assert different == {}


@pytest.mark.parametrize("lang", sorted(i18n.LANGUAGES))
def test_every_message_fills_in_and_has_no_stray_braces(lang):
    for key, text in i18n.catalogue(lang).items():
        names = fields(text)  # raises on an unbalanced brace
        # t(key, lang, **fields) takes these two itself: a field so named could not be filled.
        assert not names & {"key", "lang"}, key
        if names:
            text.format(**{name: 1 for name in names})  # a number suits every format spec
        else:
            # t() shows a message without fields as written: "{{" would appear doubled.
            assert "{" not in text and "}" not in text, key


def test_every_key_the_code_uses_is_in_the_english_catalogue():
    used = {key for path in PACKAGE.rglob("*.py")
            for key in _T_CALL.findall(path.read_text(encoding="utf-8"))}
    assert {"config.region.what", "errors.left_as_is", "checks.header"} <= used
    assert sorted(used - set(i18n.catalogue("en"))) == []


# -- choosing the language -----------------------------------------------------------------------
def test_a_parameter_error_is_in_korean_with_lang_ko_and_in_english_by_default():
    with pytest.raises(LabError) as korean:
        LabConfig(region="seoul", lang="ko", known_regions=REGIONS)
    with pytest.raises(LabError) as english:
        LabConfig(region="seoul", known_regions=REGIONS)
    assert HANGUL.search(str(korean.value))
    assert "'seoul'" in korean.value.what and "'ap-northeast-2'" in korean.value.todo
    assert not HANGUL.search(str(english.value))
    assert "is not an AWS region code" in english.value.what


def test_the_language_is_normalised():
    assert LabConfig(lang=" KO ", known_regions=REGIONS).lang == "ko"
    assert LabConfig(known_regions=REGIONS).lang == "en"


@pytest.mark.parametrize("make", [
    lambda: LabConfig(lang="xx", known_regions=REGIONS),
    lambda: check_lang("xx"),
    lambda: labkit.start(lang="xx"),
])
def test_an_unknown_language_is_refused_naming_the_languages(make):
    with pytest.raises(LabError) as raised:
        make()
    assert "'xx'" in raised.value.what
    assert "'en' (English)" in raised.value.what and "'ko' (한국어)" in raised.value.what
    assert raised.value.todo
    assert i18n.language() == "en"


def test_start_sets_the_language_before_checking_the_other_parameters():
    with pytest.raises(LabError) as raised:
        labkit.start(lang="ko", student="Kim")
    assert HANGUL.search(raised.value.what) and "'Kim'" in raised.value.what
    assert i18n.language() == "ko"


def test_messages_follow_the_current_language():
    report = CheckReport("02")
    report.expect(False, "topic exists", "")
    i18n.set_language("ko")
    assert report.as_text().splitlines()[0] == "02단계: 검사 1개 중 0개 통과"
    with pytest.raises(LabError) as raised:
        report.raise_if_failed()
    assert HANGUL.search(raised.value.what) and "topic exists" in raised.value.what
    what, todo = explain(NoCredentialsError())
    assert HANGUL.search(what) and "`aws configure`" in todo
    i18n.set_language("en")
    assert report.as_text().splitlines()[0] == "Step 02: 0/1 checks passed"


# -- the language reaches batch runs -------------------------------------------------------------
class FakeLocalTarget:
    """A local target that answers STS without a local cloud."""

    name, region, endpoint_url = "local", "ap-northeast-2", "http://127.0.0.1:1"

    def identity(self) -> Identity:
        return Identity("123456789012", "arn:aws:iam::123456789012:user/moto", self.region)


def test_the_summary_is_in_the_lab_language(tmp_path):
    lab = Lab(LabConfig(lang="ko", known_regions=REGIONS), FakeLocalTarget(), tmp_path, None,
              [], step="02")
    i18n.set_language(lab.config.lang)
    summary = lab.summary()
    assert summary["계정"] == "123456789012" and summary["target"] == "local"
    assert HANGUL.search(summary["비용"])


def test_catch_up_passes_the_language_on(tmp_path, monkeypatch):
    commands = []

    def run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="", stderr="")

    monkeypatch.setattr(subprocess, "run", run)
    lab = Lab(LabConfig(lang="ko", known_regions=REGIONS), FakeLocalTarget(), tmp_path, None,
              [], step="05")
    lab.catch_up()
    command = commands[0]
    assert command[command.index("--lang") + 1] == "ko"


def test_the_runner_takes_lang_as_a_flag_and_in_a_parameter_file(tmp_path):
    parser = argparse.ArgumentParser(prog="labkit")
    register_cli(parser.add_subparsers(dest="command", required=True))
    assert "lang" in PARAMETER_NAMES
    assert parameters_from_args(parser.parse_args(["run", "--lang", "ko"])) == {"lang": "ko"}
    params = tmp_path / "lab.yaml"
    params.write_text("lang: ko\n")
    assert parameters_from_args(parser.parse_args(["catch-up", "05", "--params", str(params)])
                                ) == {"lang": "ko"}
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--lang", "xx"])
