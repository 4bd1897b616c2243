import xml.etree.ElementTree as ET

from labkit.show.pipeline import Table, pipeline_svg

SVG = "{http://www.w3.org/2000/svg}"


def _boxes(svg):
    root = ET.fromstring(svg)
    return root.findall(f"{SVG}rect")


def test_pipeline_is_valid_svg_with_every_part():
    svg = pipeline_svg()
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    for label in ("CloudWatch alarm", "SNS topic", "Lambda function", "Slack channel", "KMS key",
                  "IAM role"):
        assert label in texts


def test_highlight_marks_only_the_named_parts():
    plain = [r.get("stroke") for r in _boxes(pipeline_svg())]
    marked = [r.get("stroke") for r in _boxes(pipeline_svg("sns"))]
    changed = [i for i, (a, b) in enumerate(zip(plain, marked)) if a != b]
    assert changed == [1]  # the SNS box is the second one drawn


def test_table_text_and_html():
    table = Table(("a", "b"), [("1", "<x>")])
    assert repr(table).splitlines() == ["a  b", "1  <x>"]
    assert "&lt;x&gt;" in table._repr_html_()
