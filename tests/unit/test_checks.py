import pytest

from labkit.checks.report import MIME, CheckReport, show_and_raise
from labkit.errors import LabError


def report(*oks):
    r = CheckReport("02")
    for i, ok in enumerate(oks):
        r.expect(ok, f"thing {i}", f"fix {i}")
    return r


def test_counts_and_text():
    r = report(True, False)
    assert (r.passed, r.failed, r.ok) == (1, 1, False)
    assert r.as_text().splitlines() == [
        "Step 02: 1/2 checks passed", "✅ thing 0", "❌ thing 1", "   → fix 1"]


def test_mime_bundle_carries_the_machine_readable_form():
    bundle = report(True, True)._repr_mimebundle_()
    assert bundle[MIME] == {"step": "02", "passed": 2, "failed": 0, "items": [
        {"ok": True, "text": "thing 0", "hint": "fix 0"},
        {"ok": True, "text": "thing 1", "hint": "fix 1"}]}
    assert "✅ thing 0" in bundle["text/html"]


def test_html_escapes_check_text():
    r = CheckReport("01")
    r.expect(False, "<script>x</script>", "a & b")
    assert "<script>" not in r.as_html() and "&lt;script&gt;" in r.as_html()


def test_failures_raise_with_the_first_hint():
    with pytest.raises(LabError) as raised:
        show_and_raise(report(True, False, False))
    assert "2 of 3 checks failed" in str(raised.value)
    assert raised.value.todo == "fix 1"


def test_an_empty_report_is_not_a_pass():
    with pytest.raises(LabError):
        CheckReport("00").raise_if_failed()


def test_a_passing_report_does_not_raise():
    assert show_and_raise(report(True)).ok
