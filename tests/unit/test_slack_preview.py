"""The Slack preview renders mrkdwn, Block Kit and attachments as Slack does, and safely.

Expected HTML is written by hand from Slack's formatting reference ("Formatting text for app
surfaces") and the legacy attachment reference; styling is stripped before comparing so that
the tables state structure and text, not colours and margins.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from labkit.show.slack_preview import (
    EMOJI,
    SlackPreview,
    bar_colour,
    is_safe_url,
    mrkdwn_to_html,
    render_html,
)

KST = timezone(timedelta(hours=9))
NOV_14 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)  # Unix time 1700000000


def bare(html_text: str) -> str:
    """The HTML without presentation attributes (style, target, rel)."""
    return re.sub(r'\s(?:style|target|rel)="[^"]*"', "", html_text)


class Page(HTMLParser):
    """Collects the tags, attributes and visible text of rendered HTML."""

    def __init__(self, html_text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html_text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def visible_text(self) -> str:
        return "".join(self.text)

    def hrefs(self) -> list[str]:
        return [attrs["href"] or "" for tag, attrs in self.tags if tag == "a"]


def bar_colours(html_text: str) -> list[str]:
    """The colours of the attachment bars (the 4 px wide coloured strips)."""
    return re.findall(r'width:4px;border-radius:8px;background:(#[0-9a-f]{6})', html_text)


# --------------------------------------------------------------------------------------------
# mrkdwn


MRKDWN_CASES = [
    # (mrkdwn as Slack receives it, expected HTML without styling)
    ("plain text", "plain text"),
    ("*bold*", "<b>bold</b>"),
    ("_italic_", "<i>italic</i>"),
    ("~strike~", "<s>strike</s>"),
    ("*bold* and _italic_ and ~gone~", "<b>bold</b> and <i>italic</i> and <s>gone</s>"),
    ("*_both_*", "<b><i>both</i></b>"),
    ("2*3*4", "2*3*4"),
    ("snake_case_name", "snake_case_name"),
    ("* not bold *", "* not bold *"),
    ("*unclosed", "*unclosed"),
    ("`a *b* <c>`", "<code>a *b* &lt;c&gt;</code>"),
    ("```\nline 1\n*x* &amp; y\n```", "<pre>line 1\n*x* &amp; y\n</pre>"),
    ("line 1\nline 2", "line 1<br>line 2"),
    # Slack escapes &, < and > in text; they are decoded once and escaped again for HTML.
    ("Tom &amp; Jerry", "Tom &amp; Jerry"),
    ("1 &lt; 2 &gt; 0", "1 &lt; 2 &gt; 0"),
    ("&amp;lt; is how you write &lt;", "&amp;lt; is how you write &lt;"),
    ("AT&T", "AT&amp;T"),
    ("a < b", "a &lt; b"),
    # Links.
    ("<https://example.com>", '<a href="https://example.com">https://example.com</a>'),
    ("<https://example.com/a?x=1&amp;y=2|Tom &amp; Jerry>",
     '<a href="https://example.com/a?x=1&amp;y=2">Tom &amp; Jerry</a>'),
    ("<http://example.com|plain http>", '<a href="http://example.com">plain http</a>'),
    ("<mailto:ops@example.com|Ops team>", '<a href="mailto:ops@example.com">Ops team</a>'),
    ("*<https://example.com|bold link>*", '<b><a href="https://example.com">bold link</a></b>'),
    ("<javascript:alert(1)|click>", "&lt;javascript:alert(1)|click&gt;"),
    ("<ftp://example.com|files>", "&lt;ftp://example.com|files&gt;"),
    # Mentions.
    ("<!here>", "<span>@here</span>"),
    ("<!channel> <!everyone>", "<span>@channel</span> <span>@everyone</span>"),
    ("<@U024BE7LH>", "<span>@U024BE7LH</span>"),
    ("<#C024BE7LR|general>", "<span>#general</span>"),
    ("<#C024BE7LR>", "<span>#C024BE7LR</span>"),
    # Quotes: Slack's text arrives with > escaped as &gt;; a raw > works too.
    ("&gt; quoted\nnot quoted", "<div>quoted</div>not quoted"),
    ("> one\n> two", "<div>one<br>two</div>"),
    ("before\n&gt;&gt;&gt; all\nthe rest", "before<div>all<br>the rest</div>"),
    # Emoji.
    (":rotating_light: :white_check_mark: :warning: :x: :bell: :fire:",
     "\U0001F6A8 \u2705 \u26A0\uFE0F \u274C \U0001F514 \U0001F525"),
    (":information_source: :large_green_circle: :red_circle:",
     "\u2139\uFE0F \U0001F7E2 \U0001F534"),
    (":no_such_emoji_here:", ":no_such_emoji_here:"),
    ("at 10:30:45", "at 10:30:45"),
    # Payload content never becomes markup.
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
]


@pytest.mark.parametrize(("source", "expected"), MRKDWN_CASES)
def test_mrkdwn(source: str, expected: str) -> None:
    assert bare(mrkdwn_to_html(source)) == expected


def test_broadcast_mentions_are_highlighted() -> None:
    here = mrkdwn_to_html("<!here>")
    assert re.fullmatch(r'<span style="[^"]*background:#[0-9a-f]{6}[^"]*">@here</span>', here)


def test_links_open_safely() -> None:
    link = mrkdwn_to_html("<https://example.com|x>")
    assert 'target="_blank"' in link
    assert 'rel="noopener noreferrer"' in link


@pytest.mark.parametrize(("url", "safe"), [
    ("https://example.com", True),
    ("HTTP://EXAMPLE.COM", True),
    ("mailto:ops@example.com", True),
    ("javascript:alert(1)", False),
    (" javascript:alert(1)", False),
    ("data:text/html,<script>", False),
    ("vbscript:x", False),
    ("//example.com", False),
    ("", False),
])
def test_only_http_https_and_mailto_links_are_safe(url: str, safe: bool) -> None:
    assert is_safe_url(url) is safe


# --------------------------------------------------------------------------------------------
# Blocks


def test_section_text_and_fields_in_a_two_column_grid() -> None:
    html_text = render_html({"blocks": [{
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*Alarm* fired"},
        "fields": [
            {"type": "mrkdwn", "text": "*State*\nALARM"},
            {"type": "plain_text", "text": "Region: ap-northeast-2"},
        ],
    }]}, when=NOV_14)
    assert "<b>Alarm</b> fired" in html_text
    grid = re.search(r'<div style="display:grid;grid-template-columns:1fr 1fr;[^"]*">(.*)',
                     html_text)
    assert grid, "fields sit in a two-column grid"
    assert "<div><b>State</b><br>ALARM</div><div>Region: ap-northeast-2</div>" in grid.group(1)


def test_section_accessory_button_is_shown() -> None:
    html_text = render_html({"blocks": [{
        "type": "section",
        "text": {"type": "plain_text", "text": "Open the console"},
        "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Open"},
                      "url": "https://console.aws.amazon.com/"},
    }]}, when=NOV_14)
    page = Page(html_text)
    assert "https://console.aws.amazon.com/" in page.hrefs()
    assert "Open" in page.visible_text


def test_section_accessory_image_is_a_labelled_placeholder() -> None:
    html_text = render_html({"blocks": [{
        "type": "section",
        "text": {"type": "plain_text", "text": "Instance i-0abc"},
        "accessory": {"type": "image", "image_url": "https://example.com/ec2.png",
                      "alt_text": "EC2 icon"},
    }]}, when=NOV_14)
    page = Page(html_text)
    assert "img" not in [tag for tag, _ in page.tags]
    assert any(attrs.get("title") == "EC2 icon" for _, attrs in page.tags)


def test_header_is_plain_text_with_emoji() -> None:
    html_text = render_html({"blocks": [{
        "type": "header", "text": {"type": "plain_text", "text": ":fire: *not bold* & <b>"},
    }]}, when=NOV_14)
    assert "\U0001F525 *not bold* &amp; &lt;b&gt;" in html_text
    assert "font-size:18px" in html_text


def test_plain_text_emoji_false_keeps_the_shortcode() -> None:
    html_text = render_html({"blocks": [{
        "type": "header", "text": {"type": "plain_text", "text": ":fire:", "emoji": False},
    }]}, when=NOV_14)
    assert ":fire:" in html_text
    assert "\U0001F525" not in html_text


def test_context_mixes_small_text_and_image_elements() -> None:
    html_text = render_html({"blocks": [{
        "type": "context",
        "elements": [
            {"type": "image", "image_url": "https://example.com/i.png", "alt_text": "aws logo"},
            {"type": "mrkdwn", "text": "*Account* 123456789012"},
            {"type": "plain_text", "text": "ap-northeast-2"},
        ],
    }]}, when=NOV_14)
    page = Page(html_text)
    assert "<b>Account</b> 123456789012" in html_text
    assert "ap-northeast-2" in page.visible_text
    assert any(attrs.get("title") == "aws logo" for _, attrs in page.tags)
    assert "font-size:12px" in html_text


def test_divider_is_a_rule() -> None:
    html_text = render_html({"blocks": [{"type": "divider"}]}, when=NOV_14)
    assert [tag for tag, _ in Page(html_text).tags].count("hr") == 1


def test_image_block_is_a_labelled_frame_not_a_download() -> None:
    html_text = render_html({"blocks": [{
        "type": "image", "image_url": "https://example.com/cpu.png", "alt_text": "CPU graph",
        "title": {"type": "plain_text", "text": "CPU, last hour"},
    }]}, when=NOV_14)
    page = Page(html_text)
    assert "img" not in [tag for tag, _ in page.tags]
    assert "CPU graph" in page.visible_text
    assert "CPU, last hour" in page.visible_text
    assert page.hrefs() == ["https://example.com/cpu.png"]


def test_actions_buttons_are_grey_unless_styled() -> None:
    html_text = render_html({"blocks": [{
        "type": "actions",
        "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}},
            {"type": "button", "text": {"type": "plain_text", "text": "Runbook"},
             "url": "https://example.com/runbook"},
            {"type": "button", "text": {"type": "plain_text", "text": "Delete"},
             "style": "danger", "url": "javascript:alert(1)"},
        ],
    }]}, when=NOV_14)
    page = Page(html_text)
    assert page.hrefs() == ["https://example.com/runbook"]
    ack = re.search(r'<span style="([^"]*)">Acknowledge</span>', html_text)
    assert ack, "a button without a url is an inert span"
    assert "background:#ffffff" in ack.group(1)
    assert "border:1px solid #bbbbbb" in ack.group(1)
    delete = re.search(r'<span style="([^"]*)">Delete</span>', html_text)
    assert delete and "background:#e01e5a" in delete.group(1)


def test_rich_text_keeps_text_styles_links_and_lists() -> None:
    html_text = render_html({"blocks": [{
        "type": "rich_text",
        "elements": [
            {"type": "rich_text_section", "elements": [
                {"type": "text", "text": "CPU is "},
                {"type": "text", "text": "high", "style": {"bold": True}},
                {"type": "text", "text": " "},
                {"type": "emoji", "name": "fire"},
                {"type": "text", "text": " see "},
                {"type": "link", "url": "https://example.com/x", "text": "graph"},
            ]},
            {"type": "rich_text_list", "style": "bullet", "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": "first"}]},
                {"type": "rich_text_section", "elements": [{"type": "text", "text": "second"}]},
            ]},
        ],
    }]}, when=NOV_14)
    bare_html = bare(html_text)
    assert "CPU is <b>high</b> \U0001F525 see <a href=\"https://example.com/x\">graph</a>" \
        in bare_html
    assert "<ul><li>first</li><li>second</li></ul>" in bare_html


def test_unknown_block_is_noted_not_dropped_silently() -> None:
    html_text = render_html({"blocks": [{"type": "video"}]}, when=NOV_14)
    assert "[video block not shown in this preview]" in Page(html_text).visible_text


def test_with_blocks_the_top_level_text_is_only_a_fallback() -> None:
    html_text = render_html({
        "text": "FALLBACK-ONLY",
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "Shown"}}],
    }, when=NOV_14)
    page = Page(html_text)
    assert "Shown" in page.visible_text
    assert "FALLBACK-ONLY" not in page.visible_text
    assert page.tags[0][1].get("title") == "FALLBACK-ONLY"


def test_without_blocks_the_top_level_text_is_shown_as_mrkdwn() -> None:
    html_text = render_html({"text": "*CPU* high"}, when=NOV_14)
    assert "<div><b>CPU</b> high</div>" in html_text


# --------------------------------------------------------------------------------------------
# Attachments


@pytest.mark.parametrize(("color", "expected"), [
    ("good", "#2eb886"),
    ("warning", "#daa038"),
    ("danger", "#a30200"),
    ("#36a64f", "#36a64f"),
    ("#439FE0", "#439fe0"),
    ("36a64f", "#36a64f"),
    (None, "#dddddd"),
    ("", "#dddddd"),
    ("purple", "#dddddd"),
    ("#12345", "#dddddd"),
    ("#fff;background:url(https://evil.example)", "#dddddd"),
])
def test_attachment_bar_colour(color: str | None, expected: str) -> None:
    assert bar_colour(color) == expected
    attachment = {"text": "x"} if color is None else {"text": "x", "color": color}
    assert bar_colours(render_html({"attachments": [attachment]}, when=NOV_14)) == [expected]


def test_attachment_with_all_legacy_fields() -> None:
    html_text = render_html({"attachments": [{
        "color": "danger",
        "pretext": "Alarm changed state",
        "author_name": "CloudWatch",
        "author_link": "https://console.aws.amazon.com/cloudwatch/",
        "title": "mission-cpu-alarm",
        "title_link": "https://console.aws.amazon.com/cloudwatch/home#alarmsV2:",
        "text": "Threshold *crossed*",
        "fields": [
            {"title": "State", "value": "ALARM", "short": True},
            {"title": "Region", "value": "ap-northeast-2", "short": True},
            {"title": "Reason", "value": "1 datapoint > 70", "short": False},
        ],
        "image_url": "https://example.com/graph.png",
        "footer": "Amazon CloudWatch",
        "ts": 1700000000,
    }]}, when=NOV_14, tz=timezone.utc)
    page = Page(html_text)
    text = page.visible_text
    # Slack's order: pretext above the bar, then author, title, text, fields, image, footer.
    order = ["Alarm changed state", "CloudWatch", "mission-cpu-alarm", "Threshold", "State",
             "ALARM", "Region", "ap-northeast-2", "Reason", "1 datapoint > 70", "image",
             "Amazon CloudWatch | Nov 14, 2023 at 10:13 PM"]
    positions = [text.index(piece) for piece in order]
    assert positions == sorted(positions)
    assert html_text.index("Alarm changed state") < html_text.index("width:4px")
    assert "Threshold <b>crossed</b>" in html_text
    assert page.hrefs()[:2] == ["https://console.aws.amazon.com/cloudwatch/",
                                "https://console.aws.amazon.com/cloudwatch/home#alarmsV2:"]
    assert "img" not in [tag for tag, _ in page.tags]
    # Long fields take the whole row; short ones share it.
    assert '<div><div style="font-weight:bold">State</div>' in html_text
    assert '<div><div style="font-weight:bold">Region</div>' in html_text
    assert '<div style="grid-column:1 / -1"><div style="font-weight:bold">Reason</div>' \
        in html_text
    assert html_text.count("grid-column:1 / -1") == 1
    assert bar_colours(html_text) == ["#a30200"]


def test_attachment_mrkdwn_in_limits_emphasis_but_not_links() -> None:
    html_text = render_html({"attachments": [{
        "mrkdwn_in": ["text"],
        "pretext": "*not bold* <https://example.com|link>",
        "text": "*bold*",
    }]}, when=NOV_14)
    assert "*not bold*" in html_text
    assert "<b>bold</b>" in html_text
    assert "https://example.com" in Page(html_text).hrefs()


def test_blocks_inside_an_attachment_sit_beside_its_bar() -> None:
    html_text = render_html({"attachments": [{
        "color": "good",
        "blocks": [{"type": "section",
                    "text": {"type": "mrkdwn", "text": ":white_check_mark: OK"}}],
    }]}, when=NOV_14)
    assert html_text.index("width:4px") < html_text.index("\u2705 OK")
    assert bar_colours(html_text) == ["#2eb886"]


def test_message_time_and_app_line() -> None:
    html_text = render_html({"text": "hi"}, app_name="CloudWatch Alarms", when=NOV_14,
                            tz=timezone.utc)
    text = Page(html_text).visible_text
    assert text.startswith("CCloudWatch Alarms APP 10:13 PM")  # avatar initial, name, badge, time


@pytest.mark.parametrize(("when", "tz", "shown"), [
    (NOV_14, timezone.utc, "10:13 PM"),
    (NOV_14, KST, "7:13 AM"),
    (1700000000, timezone.utc, "10:13 PM"),
    ("1700000000.000100", timezone.utc, "10:13 PM"),
    ("2023-11-14T22:13:20.000100Z", KST, "7:13 AM"),
    (datetime(2023, 11, 14, 12, 5, tzinfo=timezone.utc), None, None),
])
def test_time_formats(when, tz, shown) -> None:
    html_text = render_html({"text": "x"}, when=when, tz=tz)
    if shown is None:  # the viewer's local zone: only the shape can be checked
        assert re.search(r">\d{1,2}:\d{2} [AP]M</span>", html_text)
    else:
        assert f">{shown}</span>" in html_text


def test_overrides_that_app_webhooks_ignore_are_not_shown() -> None:
    html_text = render_html({"text": "x", "username": "impostor", "icon_emoji": ":skull:"},
                            when=NOV_14)
    text = Page(html_text).visible_text
    assert "impostor" not in text
    assert "\U0001F480" not in text


# --------------------------------------------------------------------------------------------
# Safety: nothing in a payload becomes markup


EVIL = '<script>alert("x")</script>'
EVIL_URL = 'https://example.com/" onmouseover="alert(1)'
INJECTION_PAYLOAD = {
    "text": EVIL,
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": EVIL}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{EVIL} <{EVIL_URL}|x>"},
         "fields": [{"type": "plain_text", "text": EVIL}],
         "accessory": {"type": "button", "text": {"type": "plain_text", "text": EVIL},
                       "url": "javascript:alert(1)"}},
        {"type": "context", "elements": [{"type": "image", "image_url": EVIL_URL,
                                          "alt_text": EVIL}]},
        {"type": "image", "image_url": "javascript:alert(1)", "alt_text": EVIL},
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "text", "text": EVIL}, {"type": "link", "url": "javascript:x", "text": EVIL},
        ]}]},
        {"type": EVIL},
    ],
    "attachments": [{
        "color": 'red" onclick="alert(1)',
        "pretext": EVIL, "author_name": EVIL, "author_link": "javascript:alert(1)",
        "title": EVIL, "title_link": EVIL_URL, "text": EVIL, "footer": EVIL,
        "fields": [{"title": EVIL, "value": EVIL, "short": True}],
        "image_url": EVIL_URL,
    }],
}


def test_payload_cannot_inject_markup() -> None:
    html_text = render_html(INJECTION_PAYLOAD, app_name=EVIL, when=NOV_14)
    page = Page(html_text)
    tags = {tag for tag, _ in page.tags}
    assert tags <= {"div", "span", "b", "i", "s", "code", "pre", "a", "br", "hr", "ul", "ol",
                    "li"}
    for _, attrs in page.tags:
        assert set(attrs) <= {"style", "href", "target", "rel", "title", "class"}
        assert "url(" not in (attrs.get("style") or "")
    for href in page.hrefs():
        assert href.startswith(("https://", "http://", "mailto:"))
    assert "<script" not in html_text.lower()
    assert 'alert("x")' in page.visible_text  # shown as text, not run


def test_quote_in_a_link_cannot_break_out_of_the_attribute() -> None:
    page = Page(mrkdwn_to_html(f"<{EVIL_URL}|x>"))
    [(tag, attrs)] = page.tags
    assert tag == "a"
    assert attrs["href"] == EVIL_URL  # the whole thing stays inside href
    assert "onmouseover" not in attrs


def test_placeholder_characters_in_a_payload_are_harmless() -> None:
    assert bare(mrkdwn_to_html("\ue0000\ue001 <https://a.example|a>")) == \
        '0 <a href="https://a.example">a</a>'


def test_odd_types_in_a_payload_do_not_crash_the_preview() -> None:
    html_text = render_html({"text": None, "blocks": [None, 3, {"type": "section", "text": 5,
                                                                "fields": "x"}],
                             "attachments": ["not a dict", {"fields": [None], "ts": "soon"}]},
                            when=NOV_14)
    assert html_text.startswith('<div class="labkit-slack-preview"')


def test_render_html_refuses_a_non_dict() -> None:
    with pytest.raises(TypeError):
        render_html("text")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# SlackPreview


def test_slack_preview_displays_as_html_in_jupyter() -> None:
    payload = {"text": "*CPU* high"}
    preview = SlackPreview(payload, when=NOV_14, tz=timezone.utc)
    assert preview._repr_html_() == render_html(payload, when=NOV_14, tz=timezone.utc)


def test_slack_preview_repr_is_a_short_summary() -> None:
    preview = SlackPreview({"text": "CPU alarm\nin Seoul", "blocks": [{"type": "divider"}] * 2,
                            "attachments": [{"text": "x"}]})
    assert repr(preview) == "SlackPreview(text='CPU alarm in Seoul', blocks=2, attachments=1)"
    long = SlackPreview({"text": "x" * 100})
    assert repr(long) == f"SlackPreview(text='{'x' * 59}\u2026', blocks=0, attachments=0)"


def test_slack_preview_from_a_stored_message_uses_its_ts() -> None:
    message = {"id": 1, "ts": "1700000000.000100", "payload": {"text": "hi"}}
    preview = SlackPreview.from_message(message, tz=timezone.utc)
    assert ">10:13 PM</span>" in preview._repr_html_()


def test_emoji_table_holds_the_alerting_shortcodes() -> None:
    expected = {
        "rotating_light": "\U0001F6A8", "white_check_mark": "\u2705",
        "warning": "\u26A0\uFE0F", "x": "\u274C", "bell": "\U0001F514", "fire": "\U0001F525",
        "information_source": "\u2139\uFE0F", "large_green_circle": "\U0001F7E2",
        "red_circle": "\U0001F534",
    }
    assert {name: EMOJI[name] for name in expected} == expected


# --------------------------------------------------------------------------------------------
# The sample payloads above are real Block Kit


@pytest.mark.parametrize("blocks", [
    [{"type": "section", "text": {"type": "mrkdwn", "text": "*Alarm* fired"},
      "fields": [{"type": "mrkdwn", "text": "*State*\nALARM"},
                 {"type": "plain_text", "text": "Region: ap-northeast-2"}]}],
    [{"type": "header", "text": {"type": "plain_text", "text": ":fire: CPU"}},
     {"type": "divider"},
     {"type": "context", "elements": [
         {"type": "image", "image_url": "https://example.com/i.png", "alt_text": "aws logo"},
         {"type": "mrkdwn", "text": "*Account* 123456789012"}]},
     {"type": "image", "image_url": "https://example.com/cpu.png", "alt_text": "CPU graph"},
     {"type": "actions", "elements": [
         {"type": "button", "text": {"type": "plain_text", "text": "Runbook"},
          "url": "https://example.com/runbook"}]}],
])
def test_sample_blocks_are_valid_block_kit(blocks: list[dict]) -> None:
    from slack_sdk.models.blocks import Block

    parsed = Block.parse_all(blocks)
    assert [b.type for b in parsed] == [b["type"] for b in blocks]
    for block in parsed:
        block.validate_json()  # raises SlackObjectFormationError when malformed
    assert Page(render_html({"blocks": blocks}, when=NOV_14)).visible_text
