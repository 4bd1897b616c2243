"""``labkit export cloudformation``: the pipeline a learner built, as a CloudFormation template."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import i18n
from ..config import LabConfig
from ..parameters import DEFAULTS, add_flag
from .export import export_template

EXAMPLES = """\
examples:
  labkit export cloudformation                          print the template
  labkit export cloudformation --out pipeline.yaml      write it to a file
  labkit export cloudformation --student kim --out kim.yaml
  labkit export cloudformation --target aws --region ap-northeast-2 --out pipeline.yaml

The template is read from the resources notebooks 02-06 made (nothing is created or changed),
so run them first (`labkit catch-up 07` replays them). Every name in it starts with the
parameter NamePrefix, so a stack made from it lives beside the pipeline made by hand. It
holds no secret: the stack's function gets its webhook through the NoEcho parameter
EncryptedWebhook, encrypted with the stack's own key (output KeyArn).
Exit status: 0 when written, 2 when a piece of the pipeline is missing (the message names
the notebook that makes it).
"""


def export_command(args: argparse.Namespace) -> int:
    """Carry out ``labkit export cloudformation``."""
    # Loaded here: labkit check's observer Lab brings the whole of labkit.lab with it.
    from ..classroom.check import observer_lab

    lang = i18n.set_language(args.lang or DEFAULTS["lang"])
    given = {name: getattr(args, name) for name in ("target", "region", "student")
             if getattr(args, name) is not None}
    text = export_template(observer_lab(LabConfig(**given, lang=lang)))
    if args.out is None:
        print(text, end="")
        return 0
    path = Path(args.out)
    path.write_text(text, encoding="utf-8")
    print(i18n.t("stack.export.written", path=str(path)))
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``labkit export cloudformation`` to the command line."""
    export = subparsers.add_parser(
        "export", help="write what you built as infrastructure as code",
        description="Write the pipeline you built by hand in another form.")
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    parser = formats.add_parser(
        "cloudformation", help="a CloudFormation template (YAML) read from your resources",
        description="Read the pipeline notebooks 02-06 made (SNS topic, Lambda function and "
                    "its role, KMS key and policy, log group, CloudWatch alarm) from the "
                    "target and write it as a CloudFormation template (YAML).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", metavar="FILE",
                        help="write the template to FILE (default: print it)")
    add_flag(parser, "student", help="the learner whose pipeline to read, e.g. kim "
                                     "(default: none, as in the notebooks)")
    add_flag(parser, "target", help=f"where it was built (default: {DEFAULTS['target']})")
    add_flag(parser, "region", help=f"default: {DEFAULTS['region']}")
    add_flag(parser, "lang", help="language of the messages: "
                                  f"{DEFAULTS['lang']} (default) or "
                                  + " or ".join(code for code in i18n.LANGUAGES
                                                if code != DEFAULTS["lang"]))
    parser.set_defaults(func=export_command)
