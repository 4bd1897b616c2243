"""The pipeline picture: the learner's names, the highlight, both languages, and the files
`labkit diagram` writes for slides."""

from __future__ import annotations

import re
import struct
import sys
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

import labkit
from labkit import cli, i18n
from labkit.names import names_for
from labkit.show import fonts, pipeline
from labkit.show.pipeline import pipeline_svg, show_pipeline

SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HANGUL = re.compile("[\uac00-\ud7a3]")
ORANGE = "#e8912d"  # the highlight's outline


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")


def texts(svg: str) -> list[str]:
    return [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]


def boxes(svg: str) -> dict[str, dict]:
    """Each box's title -> its rect's attributes and the name written under the title."""
    found, root = {}, list(ET.fromstring(svg))
    for i, element in enumerate(root):
        if element.tag == f"{SVG}rect":
            title, name = root[i + 1].text, root[i + 2].text
            found[title] = {**element.attrib, "name": name}
    return found


def test_the_picture_shows_the_bastion_and_every_part_with_the_source_labs_names():
    shown = boxes(pipeline_svg())
    assert {title: box["name"] for title, box in shown.items()} == {
        "EC2 instance": "bastion", "CloudWatch alarm": "mission-cpu-alarm",
        "SNS topic": "mission-sns", "Lambda function": "mission-lambda",
        "Slack channel": "#project", "KMS key": "alias/mission-kms-key",
        "IAM role": "mission-lambda-role"}


def test_the_bastion_points_at_the_alarm():
    svg = pipeline_svg()
    shown = boxes(svg)
    ec2, alarm = shown["EC2 instance"], shown["CloudWatch alarm"]
    right_of_ec2 = float(ec2["x"]) + float(ec2["width"])
    lines = [line.attrib for line in ET.fromstring(svg).iter(f"{SVG}line")]
    assert any(float(line["x1"]) == right_of_ec2 and float(line["x2"]) == float(alarm["x"])
               and line.get("marker-end") == "url(#arrow)" for line in lines)
    # Lambda and KMS talk both ways; the IAM role is what Lambda runs as (no arrow).
    assert sum(1 for line in lines if line.get("marker-start") == "url(#arrow-back)") == 1
    assert sum(1 for line in lines if line.get("stroke-dasharray")) == 1


def test_a_learners_names_and_channel_appear():
    svg = pipeline_svg(names=names_for("kim-"), channel="alerts")
    shown = {box["name"] for box in boxes(svg).values()}
    assert shown == {"kim-bastion", "kim-mission-cpu-alarm", "kim-mission-sns",
                     "kim-mission-lambda", "#alerts", "alias/kim-mission-kms-key",
                     "kim-mission-lambda-role"}


def test_a_long_name_fits_in_its_box():
    svg = pipeline_svg(names=names_for("a-very-long-student-name-"))
    box = boxes(svg)["KMS key"]
    # About 0.62 em a Latin letter at 11 px: the box is wider than the name.
    assert float(box["width"]) > len("alias/a-very-long-student-name-mission-kms-key") * 11 * 0.62


def test_highlight_outlines_exactly_the_named_parts():
    shown = boxes(pipeline_svg(("sns", "lambda", "ec2")))
    outlined = sorted(title for title, box in shown.items() if box["stroke"] == ORANGE)
    assert outlined == ["EC2 instance", "Lambda function", "SNS topic"]
    assert all(box["stroke"] != ORANGE for box in boxes(pipeline_svg()).values())


def test_korean_labels_with_lang_ko():
    words = texts(pipeline_svg(lang="ko"))
    for label in ("EC2 인스턴스", "CloudWatch 알람", "SNS 주제", "Lambda 함수", "Slack 채널",
                  "KMS 키", "IAM 역할", "실행 역할"):
        assert label in words
    assert "SNS topic" not in words
    # The resource names stay as they are.
    assert "mission-sns" in words


def test_the_labels_follow_the_current_language():
    i18n.set_language("ko")
    assert "SNS 주제" in texts(pipeline_svg())


def test_show_pipeline_with_a_lab_uses_its_names_channel_and_language():
    lab = SimpleNamespace(names=names_for("lee-"),
                          config=SimpleNamespace(slack_channel="ops", lang="ko"))
    picture = labkit.show_pipeline("slack", lab=lab)
    shown = boxes(picture._repr_svg_())
    assert shown["Slack 채널"]["name"] == "#ops" and shown["Slack 채널"]["stroke"] == ORANGE
    assert shown["SNS 주제"]["name"] == "lee-mission-sns"
    assert "EC2 인스턴스 -> CloudWatch 알람" in repr(picture)


def test_the_notebooks_call_still_works_without_a_lab():
    picture = show_pipeline(("sns",))
    assert boxes(picture._repr_svg_())["SNS topic"]["stroke"] == ORANGE
    assert repr(picture).startswith("EC2 instance -> CloudWatch alarm -> SNS topic")


# -- labkit diagram -------------------------------------------------------------------------------
def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_command_writes_an_svg_with_the_students_names_in_korean(tmp_path, capsys):
    out = tmp_path / "slide.svg"
    assert cli.main(["diagram", "--out", str(out), "--student", "kim", "--lang", "ko",
                     "--highlight", "sns,lambda"]) == 0
    svg = out.read_text(encoding="utf-8")
    shown = boxes(svg)
    assert shown["SNS 주제"]["name"] == "kim-mission-sns"
    assert sorted(t for t, box in shown.items() if box["stroke"] == ORANGE) == [
        "Lambda 함수", "SNS 주제"]
    assert HANGUL.search(capsys.readouterr().out)


def test_the_command_writes_a_png_twice_the_svgs_size(tmp_path):
    out = tmp_path / "slide.png"
    assert cli.main(["diagram", "--out", str(out), "--highlight", "ec2"]) == 0
    data = out.read_bytes()
    width, height = png_size(data)
    root = ET.fromstring(pipeline_svg())
    assert (width, height) == (2 * int(float(root.get("width"))),
                               2 * int(float(root.get("height"))))
    assert len(data) > 10_000  # drawn, not blank


def test_a_korean_png_is_drawn_with_a_font_that_has_hangul(tmp_path, monkeypatch):
    used = []
    monkeypatch.setattr(fonts, "hangul_font", lambda: used.append(1) or "DejaVu Sans")
    out = tmp_path / "slide.png"
    with pytest.warns(UserWarning):  # DejaVu has no Hangul: matplotlib says so per glyph
        assert cli.main(["diagram", "--out", str(out), "--lang", "ko"]) == 0
    assert used and out.read_bytes()[:8] == PNG_SIGNATURE


def test_without_a_korean_font_a_korean_png_is_refused_naming_what_to_do(tmp_path, monkeypatch,
                                                                         capsys):
    monkeypatch.setattr(fonts, "hangul_font", lambda: None)
    out = tmp_path / "slide.png"
    assert cli.main(["diagram", "--out", str(out), "--lang", "ko"]) == 2
    error = capsys.readouterr().err
    assert "--out pipeline.svg" in error and "fonts-noto-cjk" in error and HANGUL.search(error)
    assert not out.exists()


def test_an_unknown_part_or_format_is_refused(tmp_path, capsys):
    assert cli.main(["diagram", "--out", str(tmp_path / "a.svg"), "--highlight", "sqs"]) == 2
    assert "sqs" in capsys.readouterr().err
    assert cli.main(["diagram", "--out", str(tmp_path / "a.jpg")]) == 2
    assert ".svg" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["diagram", "--help"])
    text = capsys.readouterr().out
    assert "labkit diagram --out pipeline.png --highlight sns,lambda" in text
    assert "matplotlib" in text


def test_without_matplotlib_a_png_is_refused_and_an_svg_still_written(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # None: `import` raises ImportError
    assert cli.main(["diagram", "--out", str(tmp_path / "a.png")]) == 2
    assert "pip install matplotlib" in capsys.readouterr().err
    assert cli.main(["diagram", "--out", str(tmp_path / "a.svg")]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["a.svg"]
