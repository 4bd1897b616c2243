"""A Slack-like picture of a webhook message, for showing inline in a notebook.

:func:`render_html` turns a webhook payload (top-level ``text``, Block Kit ``blocks``, legacy
``attachments``) into self-contained HTML: inline styles only, no scripts, no stylesheets, no
images fetched from anywhere, so the preview looks the same offline and in a saved notebook.
:class:`SlackPreview` wraps a payload so that Jupyter displays it that way.

It follows Slack's documented rendering rules where they matter to a learner:

* "Formatting text for app surfaces" (https://api.slack.com/reference/surfaces/formatting):
  mrkdwn (``*bold*``, ``_italic_``, ``~strike~``, `` `code` ``, ```` ```pre``` ````, ``>`` quotes),
  control sequences in angle brackets (``<url|label>``, ``<@U123>``, ``<#C123|name>``,
  ``<!here>``), and Slack's own escaping of ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and
  ``&gt;``, which is decoded exactly once here.
* When a message has ``blocks``, its top-level ``text`` is only the notification fallback and is
  not shown in the channel; the preview does the same (the fallback is kept as a tooltip).
* Legacy attachments ("Reference: Secondary message attachments",
  https://api.slack.com/reference/messaging/attachments) carry the coloured bar on the left:
  ``good``, ``warning``, ``danger`` or a hex colour.
* App webhooks ignore ``username`` and ``icon_emoji`` overrides, so the preview shows the app.

Two class names mark what a page may want to find or restyle: ``labkit-slack-time`` (the
message time, whose ``title`` gives the full date) and ``labkit-slack-bar`` (an attachment's
coloured bar); the local Slack's channel page uses them.

Payload content can never inject HTML: every piece of text is escaped, colours must be hex, and
only ``http``, ``https`` and ``mailto`` links become links. Images are drawn as labelled frames
rather than loaded, which keeps the preview offline and stops a message from calling out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime, timezone, tzinfo
from typing import Any

__all__ = ["EMOJI", "SlackPreview", "mrkdwn_to_html", "render_html"]

# A few dozen shortcodes that alerting messages commonly use; Slack knows thousands, and an
# unknown one is left as ``:name:`` text, as Slack does for a custom emoji it cannot find.
EMOJI: dict[str, str] = {
    "rotating_light": "\U0001F6A8", "white_check_mark": "\u2705", "warning": "\u26A0\uFE0F",
    "x": "\u274C", "bell": "\U0001F514", "no_bell": "\U0001F515", "fire": "\U0001F525",
    "information_source": "\u2139\uFE0F", "large_green_circle": "\U0001F7E2",
    "red_circle": "\U0001F534", "large_yellow_circle": "\U0001F7E1",
    "large_orange_circle": "\U0001F7E0", "large_blue_circle": "\U0001F535",
    "white_circle": "\u26AA", "black_circle": "\u26AB", "heavy_check_mark": "\u2714\uFE0F",
    "exclamation": "\u2757", "heavy_exclamation_mark": "\u2757", "bangbang": "\u203C\uFE0F",
    "question": "\u2753", "sos": "\U0001F198", "no_entry": "\u26D4",
    "no_entry_sign": "\U0001F6AB", "octagonal_sign": "\U0001F6D1", "zap": "\u26A1",
    "chart_with_upwards_trend": "\U0001F4C8", "chart_with_downwards_trend": "\U0001F4C9",
    "bar_chart": "\U0001F4CA", "cloud": "\u2601\uFE0F", "rocket": "\U0001F680",
    "tada": "\U0001F389", "+1": "\U0001F44D", "thumbsup": "\U0001F44D", "-1": "\U0001F44E",
    "thumbsdown": "\U0001F44E", "eyes": "\U0001F440", "wave": "\U0001F44B",
    "hourglass": "\u231B", "hourglass_flowing_sand": "\u23F3", "stopwatch": "\u23F1\uFE0F",
    "alarm_clock": "\u23F0", "lock": "\U0001F512", "unlock": "\U0001F513", "key": "\U0001F511",
    "robot_face": "\U0001F916", "gear": "\u2699\uFE0F", "wrench": "\U0001F527",
    "hammer_and_wrench": "\U0001F6E0\uFE0F", "mag": "\U0001F50D", "memo": "\U0001F4DD",
    "email": "\U0001F4E7", "link": "\U0001F517", "pushpin": "\U0001F4CC",
    "computer": "\U0001F4BB", "package": "\U0001F4E6", "bulb": "\U0001F4A1",
    "recycle": "\u267B\uFE0F", "arrow_up": "\u2B06\uFE0F", "arrow_down": "\u2B07\uFE0F",
    "arrow_right": "\u27A1\uFE0F", "green_heart": "\U0001F49A", "broken_heart": "\U0001F494",
    "smile": "\U0001F604", "slightly_smiling_face": "\U0001F642", "thinking_face": "\U0001F914",
    "skull": "\U0001F480", "sunny": "\u2600\uFE0F", "snowflake": "\u2744\uFE0F",
}

# Colours of Slack's light theme.
_TEXT = "#1d1c1d"
_MUTED = "#616061"
_LINK = "#1264a3"
_BORDER = "#dddddd"
_ATTACHMENT_COLOURS = {"good": "#2eb886", "warning": "#daa038", "danger": "#a30200"}
_DEFAULT_BAR = "#dddddd"
_BUTTON_STYLES = {
    None: f"background:#ffffff;color:{_TEXT};border:1px solid #bbbbbb",
    "primary": "background:#007a5a;color:#ffffff;border:1px solid #007a5a",
    "danger": "background:#e01e5a;color:#ffffff;border:1px solid #e01e5a",
}
_FONT = "Slack-Lato,Lato,'Helvetica Neue',Helvetica,'Segoe UI',Arial,sans-serif"
_MONO = "Monaco,Menlo,Consolas,'Courier New',monospace"

_MENTION = "background:#fcefc4;color:#1d1c1d;border-radius:3px;padding:0 2px;font-weight:bold"
_USER = f"background:#e8f5fa;color:{_LINK};border-radius:3px;padding:0 2px"
_CODE = (f"font-family:{_MONO};font-size:12px;color:#c01343;background:#f8f8f8;"
         "border:1px solid #e1e1e1;border-radius:3px;padding:1px 3px")
_PRE = (f"font-family:{_MONO};font-size:12px;line-height:1.5;background:#f8f8f8;"
        "border:1px solid #e1e1e1;border-radius:4px;padding:8px;margin:4px 0;"
        "white-space:pre-wrap;word-break:break-word")
_QUOTE = "border-left:4px solid #dddddd;padding-left:10px;margin:2px 0"

_HEX_COLOUR = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
_SAFE_SCHEME = re.compile(r"(?i)(?:https?|mailto):")
_SLACK_ENTITY = re.compile(r"&(amp|lt|gt);")
_CONTROL = re.compile(r"<([^<>\n]*)>")
_PRE_BLOCK = re.compile(r"```\n?(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_SHORTCODE = re.compile(r":([a-z0-9_+'-]+):")
# Placeholders stand in for pieces already rendered (links, code) while the rest of the text is
# formatted; private-use characters cannot clash with message text (they are removed from it).
_PH_OPEN, _PH_CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(_PH_OPEN + r"(\d+)" + _PH_CLOSE)


# --------------------------------------------------------------------------------------------
# Small helpers


def _esc(text: str) -> str:
    """Escape text for an HTML text node."""
    return html.escape(text, quote=False)


def _attr(text: str) -> str:
    """Escape text for a double-quoted HTML attribute."""
    return html.escape(text, quote=True)


def _str(value: Any) -> str:
    """Payload values are not always strings; show numbers as text and drop anything absent."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _unescape_slack(text: str) -> str:
    """Undo Slack's escaping (&amp; &lt; &gt;), once and for those three entities only."""
    return _SLACK_ENTITY.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], text)


def _emoji(escaped: str) -> str:
    """Replace known ``:shortcode:`` emoji with their characters, leaving unknown ones as text."""
    return _SHORTCODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)


def is_safe_url(url: str) -> bool:
    """True for the link schemes the preview will make clickable: http, https, mailto."""
    return bool(_SAFE_SCHEME.match(url))


def _link(url: str, label_html: str) -> str:
    return (f'<a href="{_attr(url)}" target="_blank" rel="noopener noreferrer" '
            f'style="color:{_LINK};text-decoration:none">{label_html}</a>')


def bar_colour(color: Any) -> str:
    """The CSS colour of an attachment's left bar: Slack's named colours, hex, else grey."""
    value = _str(color).strip()
    if value.lower() in _ATTACHMENT_COLOURS:
        return _ATTACHMENT_COLOURS[value.lower()]
    match = _HEX_COLOUR.fullmatch(value)
    return f"#{match.group(1).lower()}" if match else _DEFAULT_BAR


def _to_datetime(when: Any, tz: tzinfo | None) -> datetime | None:
    """A message time from a datetime, epoch seconds, a Slack ts ("1700000000.000100") or ISO."""
    if isinstance(when, datetime):
        moment = when  # a naive datetime is taken as local time, as Python does
    elif isinstance(when, (int, float)) and not isinstance(when, bool):
        moment = datetime.fromtimestamp(float(when), timezone.utc)
    elif isinstance(when, str) and when.strip():
        try:
            moment = datetime.fromtimestamp(float(when), timezone.utc)
        except ValueError:
            try:
                moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
            except ValueError:
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
    else:
        return None
    # tz=None means the viewer's local time zone, as Slack shows times.
    return moment.astimezone(tz)


def _clock_time(moment: datetime) -> str:
    """Slack's message time, e.g. "9:05 PM"."""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def _footer_time(moment: datetime) -> str:
    """An attachment footer time, e.g. "Nov 14, 2023 at 10:13 PM"."""
    return f"{moment:%b} {moment.day}, {moment.year} at {_clock_time(moment)}"


# --------------------------------------------------------------------------------------------
# mrkdwn


def _control_sequence(inner: str) -> str:
    """Render one ``<...>`` control sequence (its content still in Slack's escaping)."""
    target, _, label = _unescape_slack(inner).partition("|")
    if target.startswith("!"):
        command = target[1:].split("^", 1)[0]
        if command in ("here", "channel", "everyone"):
            return f'<span style="{_MENTION}">@{command}</span>'
        if command == "subteam":
            return f'<span style="{_MENTION}">{_esc(label or "@group")}</span>'
        if command == "date":
            return _esc(label or target)  # the fallback text, in the sender's words
        return f'<span style="{_MENTION}">{_esc(label or "@" + command)}</span>'
    if target.startswith("@"):
        return f'<span style="{_USER}">@{_esc(label or target[1:])}</span>'
    if target.startswith("#"):
        return f'<span style="{_USER}">#{_esc(label or target[1:])}</span>'
    if is_safe_url(target):
        return _link(target, _emoji(_esc(label)) if label else _esc(target))
    # Not a link Slack (or this preview) would follow: show what was sent, inert.
    return _esc("<" + _unescape_slack(inner) + ">")


_STYLES = (("*", "b"), ("_", "i"), ("~", "s"))


def _emphasis(escaped: str) -> str:
    """Apply *bold*, _italic_ and ~strike~ to escaped text.

    Like Slack, a marker only counts at a word boundary and must hug its text, so
    ``2*3*4``, ``snake_case_name`` and ``* not bold *`` stay as typed.
    """
    for marker, tag in _STYLES:
        m = re.escape(marker)
        pattern = re.compile(rf"(?<![\w{m}]){m}(?=\S)([^{m}\n]*?\S){m}(?![\w{m}])")
        escaped = pattern.sub(rf"<{tag}>\1</{tag}>", escaped)
    return escaped


def _lines_to_html(escaped: str) -> str:
    """Turn newlines into line breaks and ``>`` lines (or a ``>>>`` tail) into quotes."""
    out: list[str] = []
    text_run: list[str] = []
    quote_run: list[str] = []

    def flush() -> None:
        if text_run:
            out.append("<br>".join(text_run))
            text_run.clear()
        if quote_run:
            out.append(f'<div style="{_QUOTE}">' + "<br>".join(quote_run) + "</div>")
            quote_run.clear()

    lines = escaped.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("&gt;&gt;&gt;"):
            flush()
            rest = [line[len("&gt;&gt;&gt;"):].lstrip(" ")] + lines[index + 1:]
            quote_run.extend(rest)
            break
        if line.startswith("&gt;"):
            if text_run:
                flush()
            quote_run.append(line[len("&gt;"):].removeprefix(" "))
        else:
            if quote_run:
                flush()
            text_run.append(line)
    flush()
    return "".join(out)


def _mrkdwn(text: str, *, emphasis: bool = True) -> str:
    """The mrkdwn renderer; ``emphasis=False`` keeps links and mentions but not *bold* etc."""
    text = _str(text).replace(_PH_OPEN, "").replace(_PH_CLOSE, "")
    pieces: list[str] = []

    def hold(rendered: str) -> str:
        pieces.append(rendered)
        return f"{_PH_OPEN}{len(pieces) - 1}{_PH_CLOSE}"

    # Code first: nothing inside it is formatted, only shown.
    text = _PRE_BLOCK.sub(
        lambda m: hold(f'<pre style="{_PRE}">{_esc(_unescape_slack(m.group(1)))}</pre>'), text)
    text = _INLINE_CODE.sub(
        lambda m: hold(f'<code style="{_CODE}">{_esc(_unescape_slack(m.group(1)))}</code>'), text)
    text = _CONTROL.sub(lambda m: hold(_control_sequence(m.group(1))), text)

    escaped = _esc(_unescape_slack(text))
    if emphasis:
        escaped = _emphasis(escaped)
    escaped = _emoji(escaped)
    rendered = _lines_to_html(escaped)
    return _PLACEHOLDER.sub(lambda m: pieces[int(m.group(1))], rendered)


def mrkdwn_to_html(text: str) -> str:
    """Render Slack mrkdwn as HTML, escaping everything that is not Slack formatting."""
    return _mrkdwn(text)


def _plain(text: Any, *, emoji: bool = True) -> str:
    """Render ``plain_text``: escaped, with emoji shortcodes (Slack's default) and line breaks."""
    escaped = _esc(_str(text))
    if emoji:
        escaped = _emoji(escaped)
    return escaped.replace("\n", "<br>")


def _text_object(obj: Any) -> str:
    """Render a Block Kit text object ({"type": "mrkdwn"|"plain_text", "text": ...})."""
    if isinstance(obj, str):
        return _plain(obj)
    obj = _dict(obj)
    if obj.get("type") == "mrkdwn":
        return mrkdwn_to_html(_str(obj.get("text")))
    return _plain(obj.get("text"), emoji=obj.get("emoji", True) is not False)


# --------------------------------------------------------------------------------------------
# Blocks


def _image_frame(url: Any, alt: Any, *, small: bool = False) -> str:
    """An image drawn as a labelled frame (never loaded), linking to it when the link is safe."""
    label = _esc(_str(alt) or "image")
    url = _str(url)
    if small:
        return (f'<span title="{_attr(_str(alt))}" style="display:inline-block;width:16px;'
                f'height:16px;border-radius:4px;background:{_BORDER};vertical-align:middle">'
                "</span>")
    link = f"<br>{_link(url, _esc(url))}" if is_safe_url(url) else ""
    return (f'<div style="border:1px solid {_BORDER};border-radius:8px;background:#f8f8f8;'
            f'padding:12px;margin:4px 0;color:{_MUTED};font-size:13px">'
            f"\U0001F5BC {label}{link}</div>")


def _button(element: dict[str, Any]) -> str:
    style = _BUTTON_STYLES.get(element.get("style"), _BUTTON_STYLES[None])
    css = (f"display:inline-block;{style};border-radius:4px;padding:3px 12px;margin:2px 4px 2px 0;"
           "font-size:13px;font-weight:bold;text-decoration:none")
    label = _text_object(element.get("text"))
    url = _str(element.get("url"))
    if is_safe_url(url):
        return (f'<a href="{_attr(url)}" target="_blank" rel="noopener noreferrer" '
                f'style="{css}">{label}</a>')
    return f'<span style="{css}">{label}</span>'


def _element(element: Any) -> str:
    """An interactive element (in actions or as an accessory), drawn inert."""
    element = _dict(element)
    kind = _str(element.get("type"))
    if kind == "button":
        return _button(element)
    if kind == "image":
        return _image_frame(element.get("image_url"), element.get("alt_text"), small=True)
    if kind == "overflow":
        label = "\u22EF"
    else:  # selects, date pickers, ...: their placeholder, or their kind
        placeholder = element.get("placeholder")
        label = _text_object(placeholder) if placeholder else _esc(kind or "element")
    return (f'<span style="display:inline-block;background:#ffffff;color:{_MUTED};'
            f'border:1px solid #bbbbbb;border-radius:4px;padding:3px 12px;margin:2px 4px 2px 0;'
            f'font-size:13px">{label}</span>')


def _section(block: dict[str, Any]) -> str:
    body = ""
    if block.get("text"):
        body += f"<div>{_text_object(block['text'])}</div>"
    fields = _list(block.get("fields"))
    if fields:
        cells = "".join(f"<div>{_text_object(f)}</div>" for f in fields)
        body += ('<div style="display:grid;grid-template-columns:1fr 1fr;gap:6px 16px;'
                 f'margin-top:6px">{cells}</div>')
    accessory = _element(block["accessory"]) if block.get("accessory") else ""
    if accessory:
        accessory = f'<div style="flex:none">{accessory}</div>'
    return (f'<div style="display:flex;gap:12px;margin:4px 0">'
            f'<div style="flex:1;min-width:0">{body}</div>{accessory}</div>')


def _rich_inline(element: Any) -> str:
    """One inline element of a rich_text block."""
    element = _dict(element)
    kind = element.get("type")
    style = _dict(element.get("style"))
    if kind == "text":
        out = _esc(_str(element.get("text"))).replace("\n", "<br>")
    elif kind == "link":
        url = _str(element.get("url"))
        label = _esc(_str(element.get("text")) or url)
        out = _link(url, label) if is_safe_url(url) else label
    elif kind == "emoji":
        name = _str(element.get("name"))
        codepoints = _str(element.get("unicode"))
        out = EMOJI.get(name) or _from_codepoints(codepoints) or _esc(f":{name}:")
    elif kind == "user":
        out = f'<span style="{_USER}">@{_esc(_str(element.get("user_id")))}</span>'
    elif kind == "usergroup":
        out = f'<span style="{_MENTION}">@{_esc(_str(element.get("usergroup_id")))}</span>'
    elif kind == "channel":
        out = f'<span style="{_USER}">#{_esc(_str(element.get("channel_id")))}</span>'
    elif kind == "broadcast":
        out = f'<span style="{_MENTION}">@{_esc(_str(element.get("range")))}</span>'
    elif kind == "date":
        out = _esc(_str(element.get("fallback") or element.get("timestamp")))
    else:
        out = _esc(_str(element.get("text") or element.get("value")))
    if style.get("code"):
        out = f'<code style="{_CODE}">{out}</code>'
    for key, tag in (("bold", "b"), ("italic", "i"), ("strike", "s")):
        if style.get(key):
            out = f"<{tag}>{out}</{tag}>"
    return out


def _from_codepoints(codepoints: str) -> str:
    try:
        return "".join(chr(int(part, 16)) for part in codepoints.split("-")) if codepoints else ""
    except ValueError:
        return ""


def _rich_text(block: dict[str, Any]) -> str:
    out = []
    for part in _list(block.get("elements")):
        part = _dict(part)
        inline = "".join(_rich_inline(e) for e in _list(part.get("elements")))
        kind = part.get("type")
        if kind == "rich_text_list":
            tag = "ol" if part.get("style") == "ordered" else "ul"
            items = "".join(
                "<li>" + "".join(_rich_inline(e) for e in _list(_dict(item).get("elements")))
                + "</li>"
                for item in _list(part.get("elements"))
            )
            out.append(f'<{tag} style="margin:2px 0;padding-left:24px">{items}</{tag}>')
        elif kind == "rich_text_quote":
            out.append(f'<div style="{_QUOTE}">{inline}</div>')
        elif kind == "rich_text_preformatted":
            out.append(f'<pre style="{_PRE}">{inline}</pre>')
        else:
            out.append(f"<div>{inline}</div>")
    return f'<div style="margin:4px 0">{"".join(out)}</div>'


def _header(block: dict[str, Any]) -> str:
    return (f'<div style="font-size:18px;font-weight:900;line-height:1.33;margin:8px 0 4px">'
            f'{_text_object(block.get("text"))}</div>')


def _context(block: dict[str, Any]) -> str:
    parts = []
    for element in _list(block.get("elements")):
        element = _dict(element)
        if element.get("type") == "image":
            parts.append(_image_frame(element.get("image_url"), element.get("alt_text"),
                                      small=True))
        else:
            parts.append(f"<span>{_text_object(element)}</span>")
    return (f'<div style="display:flex;flex-wrap:wrap;align-items:center;gap:6px;'
            f'font-size:12px;color:{_MUTED};margin:4px 0">{"".join(parts)}</div>')


def _divider(block: dict[str, Any]) -> str:
    return f'<hr style="border:none;border-top:1px solid {_BORDER};margin:8px 0">'


def _image(block: dict[str, Any]) -> str:
    title = block.get("title")
    heading = (f'<div style="font-size:13px;color:{_MUTED}">{_text_object(title)}</div>'
               if title else "")
    return heading + _image_frame(block.get("image_url"), block.get("alt_text"))


def _actions(block: dict[str, Any]) -> str:
    buttons = "".join(_element(e) for e in _list(block.get("elements")))
    return f'<div style="margin:4px 0">{buttons}</div>'


_BLOCKS: dict[str, Callable[[dict[str, Any]], str]] = {
    "section": _section,
    "header": _header,
    "context": _context,
    "divider": _divider,
    "image": _image,
    "actions": _actions,
    "rich_text": _rich_text,
}


def _blocks(blocks: Any) -> str:
    out = []
    for block in _list(blocks):
        block = _dict(block)
        kind = _str(block.get("type"))
        render = _BLOCKS.get(kind)
        if render is None:
            out.append(f'<div style="font-size:12px;color:{_MUTED};margin:4px 0">'
                       f"[{_esc(kind or 'unknown')} block not shown in this preview]</div>")
        else:
            out.append(render(block))
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Attachments


def _attachment(attachment: Any, tz: tzinfo | None) -> str:
    att = _dict(attachment)
    # When an attachment names its mrkdwn fields, only those get *bold* and friends (links and
    # mentions always work); without the list every field is formatted.
    formatted = att.get("mrkdwn_in")
    if isinstance(formatted, list):
        formatted = {name for name in formatted if isinstance(name, str)}
    else:
        formatted = {"pretext", "text", "fields"}

    def fmt(field: str, text: Any) -> str:
        return _mrkdwn(_str(text), emphasis=field in formatted)

    inner = []
    if att.get("author_name"):
        name = _esc(_str(att["author_name"]))
        link = _str(att.get("author_link"))
        name = _link(link, name) if is_safe_url(link) else name
        inner.append(f'<div style="font-size:13px;font-weight:bold;color:{_MUTED}">{name}</div>')
    if att.get("title"):
        title = _esc(_str(att["title"]))
        link = _str(att.get("title_link"))
        title = _link(link, title) if is_safe_url(link) else title
        inner.append(f'<div style="font-weight:bold">{title}</div>')
    if att.get("text"):
        inner.append(f"<div>{fmt('text', att['text'])}</div>")
    fields = _list(att.get("fields"))
    if fields:
        cells = []
        for field in fields:
            field = _dict(field)
            span = "" if field.get("short") else ' style="grid-column:1 / -1"'
            cells.append(f'<div{span}><div style="font-weight:bold">'
                         f'{_esc(_str(field.get("title")))}</div>'
                         f"<div>{fmt('fields', field.get('value'))}</div></div>")
        inner.append('<div style="display:grid;grid-template-columns:1fr 1fr;gap:6px 16px;'
                     f'margin:4px 0">{"".join(cells)}</div>')
    if att.get("image_url"):
        inner.append(_image_frame(att["image_url"], att.get("fallback") or "image"))
    if att.get("blocks"):
        inner.append(_blocks(att["blocks"]))
    footer = [_esc(_str(att["footer"]))] if att.get("footer") else []
    moment = _to_datetime(att.get("ts"), tz) if att.get("ts") is not None else None
    if moment is not None:
        footer.append(_footer_time(moment))
    if footer:
        inner.append(f'<div style="font-size:12px;color:{_MUTED};margin-top:4px">'
                     f'{" | ".join(footer)}</div>')

    pretext = f"<div>{fmt('pretext', att['pretext'])}</div>" if att.get("pretext") else ""
    colour = bar_colour(att.get("color"))
    return (f'{pretext}<div style="display:flex;margin:4px 0">'
            f'<div class="labkit-slack-bar" style="flex:none;width:4px;border-radius:8px;'
            f'background:{colour}"></div>'
            f'<div style="padding:0 0 0 12px;min-width:0;flex:1">{"".join(inner)}</div></div>')


# --------------------------------------------------------------------------------------------
# The message


def render_html(payload: dict[str, Any], *, app_name: str = "Lab Alerts",
                when: Any = None, tz: tzinfo | None = None) -> str:
    """Render a webhook payload as a Slack-like message in self-contained HTML.

    ``when`` is the time shown next to the app name (a datetime, epoch seconds, a Slack ts or
    an ISO string; now when omitted); times are shown in ``tz``, the local zone by default.
    """
    if not isinstance(payload, dict):
        raise TypeError(f"a Slack payload is a dict, not {type(payload).__name__}")
    if when is None:
        moment: datetime | None = datetime.now(timezone.utc).astimezone(tz)
    else:
        moment = _to_datetime(when, tz)
    time_html = _clock_time(moment) if moment is not None else ""
    # As in Slack, hovering over the time shows the full date.
    time_title = f' title="{_attr(_footer_time(moment))}"' if moment is not None else ""

    body = []
    blocks = _list(payload.get("blocks"))
    text = _str(payload.get("text"))
    if blocks:
        body.append(_blocks(blocks))  # with blocks, text is only the notification fallback
    elif text:
        body.append(f"<div>{mrkdwn_to_html(text)}</div>")
    for attachment in _list(payload.get("attachments")):
        body.append(_attachment(attachment, tz))

    initial = _esc((app_name.strip()[:1] or "A").upper())
    fallback = f' title="{_attr(_unescape_slack(text))}"' if blocks and text else ""
    return (
        f'<div class="labkit-slack-preview"{fallback} style="font-family:{_FONT};font-size:15px;'
        f"line-height:1.46668;color:{_TEXT};background:#ffffff;border:1px solid {_BORDER};"
        'border-radius:8px;padding:12px 16px;max-width:720px;display:flex;gap:8px;'
        'box-sizing:border-box;text-align:left">'
        '<div style="flex:none;width:36px;height:36px;border-radius:6px;background:#4a154b;'
        'color:#ffffff;font-weight:bold;font-size:18px;line-height:36px;text-align:center">'
        f"{initial}</div>"
        '<div style="flex:1;min-width:0;overflow-wrap:anywhere">'
        f'<div><b>{_esc(app_name)}</b> <span style="font-size:10px;font-weight:bold;'
        f'color:{_MUTED};background:#e8e8e8;border-radius:2px;padding:1px 3px">APP</span> '
        f'<span class="labkit-slack-time"{time_title} style="font-size:12px;color:{_MUTED}">'
        f'{time_html}</span></div>'
        f'{"".join(body)}</div></div>'
    )


class SlackPreview:
    """A webhook payload that Jupyter shows as a Slack message.

    >>> SlackPreview({"text": "Hello"})
    SlackPreview(text='Hello', blocks=0, attachments=0)
    """

    def __init__(self, payload: dict[str, Any], *, app_name: str = "Lab Alerts",
                 when: Any = None, tz: tzinfo | None = None) -> None:
        if not isinstance(payload, dict):
            raise TypeError(f"a Slack payload is a dict, not {type(payload).__name__}")
        self.payload = payload
        self.app_name = app_name
        self.when = when
        self.tz = tz

    @classmethod
    def from_message(cls, message: dict[str, Any], **kwargs: Any) -> SlackPreview:
        """Preview a message stored by the local Slack (its ``payload``, at its ``ts``)."""
        kwargs.setdefault("when", message.get("ts"))
        return cls(message["payload"], **kwargs)

    def _repr_html_(self) -> str:
        return render_html(self.payload, app_name=self.app_name, when=self.when, tz=self.tz)

    def __repr__(self) -> str:
        text = _str(self.payload.get("text")).replace("\n", " ")
        if len(text) > 60:
            text = text[:59] + "\u2026"
        return (f"SlackPreview(text={text!r}, blocks={len(_list(self.payload.get('blocks')))}, "
                f"attachments={len(_list(self.payload.get('attachments')))})")
