import pytest

from labkit.errors import LabError
from labkit.webhook import SecretUrl, check_webhook_url

GOOD = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
LOCAL = "https://127.0.0.1:4752/services/T0LOCAL01/BABCDEFGHIJ/abcdefghijklmnopqrstuvwx"


def test_a_real_slack_webhook_is_accepted():
    assert check_webhook_url(GOOD) == GOOD
    assert check_webhook_url(f"  {GOOD}\n") == GOOD


def test_local_webhooks_only_when_allowed():
    assert check_webhook_url(LOCAL, allow_local=True) == LOCAL
    with pytest.raises(LabError, match="local Slack URL"):
        check_webhook_url(LOCAL)


@pytest.mark.parametrize("url, words", [
    ("", "empty"),
    ("hooks.slack.com/services/T00000000/B00000000/XXXXXXXX", "no https://"),
    ("not a url", "not a URL"),
    ("http://hooks.slack.com/services/T00000000/B00000000/XXXXXXXX", "only accepts webhooks over https"),
    ("https://hooks.slack.co/services/T00000000/B00000000/XXXXXXXX", "host is 'hooks.slack.co'"),
    ("https://example.com/services/T00000000/B00000000/XXXXXXXX", "host is 'example.com'"),
    ("https://hooks.slack.com/services/T00000000/B00000000", "missing parts"),
    ("https://hooks.slack.com/services/T00000000/XXXXXXXX", "missing parts"),
    ("https://hooks.slack.com/T00000000/B00000000/XXXXXXXX", "missing parts"),
    ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXX?x=1", "missing parts"),
])
def test_malformed_urls_are_refused_with_the_valid_shape(url, words):
    with pytest.raises(LabError) as raised:
        check_webhook_url(url)
    message = str(raised.value)
    assert words in message
    assert "https://hooks.slack.com/services/T…/B…/<secret>" in message
    assert "XXXXXXXX" not in message  # the secret is never echoed


def test_secret_url_shows_only_the_masked_form():
    secret = SecretUrl(GOOD)
    for shown in (str(secret), repr(secret), secret._repr_html_(), f"{secret}"):
        assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in shown
        assert "hooks.slack.com/services/T00000000/B00000000/" in shown
    assert secret.reveal() == GOOD
    assert secret.without_scheme == GOOD.removeprefix("https://")
