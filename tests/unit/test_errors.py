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
