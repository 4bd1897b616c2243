import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from labkit.errors import LabError, explain
from labkit.show.tracebacks import format_error


def client_error(code, message="msg", operation="CreateTopic"):
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize("exc, what_words, todo_words", [
    (LabError("Broken.", "Fix it."), "Broken.", "Fix it."),
    (NoCredentialsError(), "no AWS credentials", "aws configure"),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:4750/"), "local cloud does not answer",
     "re-run the earlier notebooks"),
    (client_error("AccessDeniedException", "not authorized to perform: kms:Decrypt"),
     "AWS denied CreateTopic: your identity does not have the permission kms:Decrypt",
     "Add kms:Decrypt"),
    (client_error("ResourceNotFoundException", "Function not found"), "Function not found",
     "run that notebook first"),
    (client_error("InvalidParameter", "Topic name is bad"), "AWS answered InvalidParameter",
     "names the parameter"),
])
def test_known_errors_get_what_and_what_to_do(exc, what_words, todo_words):
    what, todo = explain(exc)
    assert what_words in what
    assert todo_words in todo


def test_unknown_errors_keep_their_traceback():
    assert explain(ZeroDivisionError()) is None
    assert format_error(ZeroDivisionError()) is None


def test_notebook_lines_are_short_and_masked():
    url = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    lines = format_error(LabError(f"Posting to {url} failed.", "Check it."))
    assert len(lines) == 2
    assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in "".join(lines)
    assert "LabError" in lines[0] and "Check it." in lines[1]


def test_a_notebooks_own_error_comes_from_labkits_messages_in_the_current_language():
    from labkit import i18n

    english = LabError.from_messages("faults.no_dead_letter")
    assert english.what == "No event reached the dead-letter queue within 30 s."
    assert english.todo.startswith("Run this cell again")
    i18n.set_language("ko")
    try:
        korean = LabError.from_messages("faults.no_dead_letter")
    finally:
        i18n.set_language("en")
    assert korean.what.startswith("30초 안에 DLQ") and korean.todo.startswith("이 셀을 다시")


def test_every_message_a_notebook_raises_is_in_both_catalogues():
    import json
    import re
    from pathlib import Path

    from labkit import i18n

    keys = set()
    for path in sorted(Path(__file__).resolve().parents[2].glob("notebooks/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            keys |= set(re.findall(r"LabError\.from_messages\(\s*\"([\w.]+)\"", source))
    assert "faults.no_dead_letter" in keys  # notebook 08's
    for key in keys:
        for part in (".what", ".todo"):
            assert key + part in i18n.catalogue("en") and key + part in i18n.catalogue("ko")
