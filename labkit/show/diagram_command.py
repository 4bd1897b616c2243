"""``labkit diagram``: the pipeline picture as a file, for slides (SVG, or PNG through matplotlib)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import i18n
from ..config import LabConfig
from ..defaults import DEFAULT_SLACK_CHANNEL
from ..errors import LabError
from ..names import names_for
from .pipeline import KEYS, diagram_svg, layout, pipeline_png

EXAMPLES = """\
examples:
  labkit diagram --out pipeline.svg
  labkit diagram --out pipeline.png --highlight sns,lambda
  labkit diagram --out kim.svg --student kim --lang ko --highlight kms,iam

SVG is written directly and scales to any size on a slide. PNG is drawn with matplotlib (installed
with the lab; no other program needed), at twice the SVG's size; Korean labels in a PNG need a font
with Korean letters (Noto Sans CJK KR, NanumGothic, Malgun Gothic or Apple SD Gothic Neo).
"""


def write_diagram(out: str | Path, student: str = "", lang: str | None = None,
                  highlight: tuple[str, ...] = (),
                  channel: str = DEFAULT_SLACK_CHANNEL) -> Path:
    """Write the pipeline picture to *out* (.svg or .png); the path written.

    *student* and *channel* give the names shown (checked as the notebooks' parameters are),
    *lang* the labels' language (default: the current one), *highlight* the parts that stand out.
    """
    path = Path(out)
    config = LabConfig(student=student, slack_channel=channel, lang=lang or i18n.language())
    unknown = [part for part in highlight if part not in KEYS]
    if unknown:
        raise LabError(i18n.t("diagram.unknown_part.what", config.lang, part=unknown[0],
                              parts=", ".join(KEYS)),
                       i18n.t("diagram.unknown_part.todo", config.lang))
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise LabError(i18n.t("diagram.unknown_format.what", config.lang, path=str(path)),
                       i18n.t("diagram.unknown_format.todo", config.lang))
    diagram = layout(highlight, names_for(config.prefix), config.slack_channel, config.lang)
    if suffix == ".svg":
        path.write_text(diagram_svg(diagram), encoding="utf-8")
        return path
    try:
        import matplotlib  # noqa: F401 - only to tell a missing install apart
    except ImportError:
        raise LabError(i18n.t("diagram.png_needs_matplotlib.what", config.lang),
                       i18n.t("diagram.png_needs_matplotlib.todo", config.lang)) from None
    pipeline_png(diagram, path)
    return path


def command(args: argparse.Namespace) -> int:
    highlight = tuple(part.strip() for part in (args.highlight or "").split(",") if part.strip())
    lang = i18n.set_language(args.lang) if args.lang else None
    path = write_diagram(args.out, student=args.student, lang=lang, highlight=highlight,
                         channel=args.channel)
    print(i18n.t("diagram.written", path=str(path)))
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``labkit diagram`` to the command line."""
    parser = subparsers.add_parser(
        "diagram", help="write the pipeline picture to an SVG or PNG file, for slides",
        description="Write the lab's pipeline (EC2 bastion → CloudWatch alarm → SNS topic → "
                    "Lambda ⇄ KMS → Slack, with the IAM role) to a file, with a learner's names "
                    "and the parts of a step highlighted.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", metavar="FILE", required=True,
                        help="the file to write: .svg, or .png (drawn with matplotlib)")
    parser.add_argument("--student", default="",
                        help="the learner whose names to show, e.g. kim (default: none, the "
                             "source lab's names)")
    parser.add_argument("--channel", default=DEFAULT_SLACK_CHANNEL,
                        help=f"the Slack channel shown (default: {DEFAULT_SLACK_CHANNEL})")
    parser.add_argument("--lang", choices=tuple(i18n.LANGUAGES),
                        help="language of the labels: en (default) or ko")
    parser.add_argument("--highlight", metavar="PARTS",
                        help="parts that stand out, separated by commas: " + ",".join(KEYS))
    parser.set_defaults(func=command)
