import pytest

from labkit.masking import SLACK_WEBHOOK_PATTERN, find_webhook_urls, mask_secrets

# Obviously fake webhooks in Slack's documented shape.
REAL = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
LOCAL = "https://127.0.0.1:4752/services/T0LOCAL01/BABCDEFGHIJ/abcdefghijklmnopqrstuvwx"


@pytest.mark.parametrize(
    "text, expected",
    [
        (REAL, "https://hooks.slack.com/services/T00000000/B00000000/••••XX"),
        (LOCAL, "https://127.0.0.1:4752/services/T0LOCAL01/BABCDEFGHIJ/••••wx"),
        (f"posting to {REAL} now", "posting to https://hooks.slack.com/services/T00000000/B00000000/••••XX now"),
        ("hooks.slack.com/services/T1/B2/shortsec", "hooks.slack.com/services/T1/B2/••••"),
        ("no url here", "no url here"),
        ('"POST /services/T0LOCAL01/BABC/abcdefghijklmnopqrstuvwx HTTP/1.1" 200',
         '"POST /services/T0LOCAL01/BABC/••••wx HTTP/1.1" 200'),
        ("https://example.com/services/not-a-hook", "https://example.com/services/not-a-hook"),
    ],
)
def test_mask_secrets(text, expected):
    assert mask_secrets(text) == expected


def test_masked_text_no_longer_matches_the_secret_scanners_pattern():
    assert SLACK_WEBHOOK_PATTERN.search(REAL)
    assert not SLACK_WEBHOOK_PATTERN.search(mask_secrets(REAL))
    assert find_webhook_urls(mask_secrets(f"{REAL} {LOCAL}")) == []


def test_find_webhook_urls_finds_every_one():
    assert find_webhook_urls(f"a {REAL} b {LOCAL}") == [REAL, LOCAL]


def test_masking_is_idempotent():
    once = mask_secrets(REAL)
    assert mask_secrets(once) == once


def test_the_local_clouds_log_filter_masks_every_record():
    import io
    import logging

    from labkit.local.server import MaskingFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger("labkit.test.masking")
    logger.addHandler(handler)
    try:
        logger.warning("function output: %s", REAL)
    finally:
        logger.removeHandler(handler)
    assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in stream.getvalue()
    assert "hooks.slack.com/services/T00000000/B00000000/••••" in stream.getvalue()
