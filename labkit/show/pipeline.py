"""Pictures for the notebooks and slides: the pipeline, with the part a step builds highlighted.

One layout (:func:`layout`: boxes, arrows, labels, all in the lab's language and with the
learner's names) is drawn two ways: as SVG text (:func:`pipeline_svg`, for notebooks and slides)
and as a PNG through matplotlib (:func:`pipeline_png`), which the lab already installs and whose
wheels draw without any system library on Linux, macOS and Windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from .. import i18n
from ..defaults import DEFAULT_SLACK_CHANNEL
from ..names import Names, names_for

# The keys of the parts, in the order they are drawn. The bastion comes last so that the
# boxes of the other parts keep their place in the drawing.
KEYS = ("alarm", "sns", "lambda", "slack", "kms", "iam", "ec2")
# Drawing units (SVG pixels): box height, the gap an arrow and its label take, the rows' tops.
BOX_H, GAP, MARGIN, ROW_1, ROW_2 = 60, 90, 10, 20, 160
COLOURS = {"fill": "#f4f6f8", "stroke": "#9aa5b1", "fill_on": "#fff4e5", "stroke_on": "#e8912d",
           "line": "#555555", "sub": "#555555"}
# Fonts with Hangul first where a system has them, so Korean labels read well in any viewer.
FONTS = ("Helvetica, Arial, 'Apple SD Gothic Neo', 'Malgun Gothic', 'Noto Sans KR', "
         "'Noto Sans CJK KR', NanumGothic, sans-serif")


@dataclass(frozen=True)
class Box:
    """One part of the pipeline: its kind (*title*) and its resource's *name*."""

    key: str
    title: str
    name: str
    x: float
    y: float
    width: float
    on: bool


@dataclass(frozen=True)
class Arrow:
    """A line from (x1, y1) to (x2, y2); *heads* is "end", "both" or "none"."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    heads: str = "end"

    @property
    def middle(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2


@dataclass(frozen=True)
class Diagram:
    """Everything drawn, in drawing units (SVG pixels)."""

    width: float
    height: float
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]


def _names_shown(names: Names, channel: str) -> dict[str, str]:
    return {"alarm": names.alarm, "sns": names.topic, "lambda": names.function,
            "slack": "#" + channel.lstrip("#"), "kms": names.kms_alias, "iam": names.role,
            "ec2": names.bastion}


def layout(highlight: str | tuple[str, ...] = (), names: Names | None = None,
           channel: str = DEFAULT_SLACK_CHANNEL, lang: str | None = None) -> Diagram:
    """Where each part of the pipeline goes, with its label in *lang* and its name in *names*.

    The main flow runs left to right, EC2 (the bastion) → CloudWatch alarm → SNS topic → Lambda
    → Slack; below Lambda, the KMS key it decrypts with and the IAM role it runs as.
    """
    marked = {highlight} if isinstance(highlight, str) else set(highlight)
    shown = _names_shown(names or names_for(""), channel)
    titles = {key: i18n.t(f"pipeline.{key}", lang) for key in KEYS}
    width = max(160, 24 + max([*(_text_width(text, 14) for text in titles.values()),
                               *(_text_width(text, 11) for text in shown.values())]))
    step = width + GAP
    row = {"ec2": 0, "alarm": 1, "sns": 2, "lambda": 3, "slack": 4}
    places = {key: (MARGIN + column * step, ROW_1) for key, column in row.items()}
    lambda_x = places["lambda"][0]
    places["kms"] = (lambda_x - step / 2, ROW_2)
    places["iam"] = (lambda_x + step / 2, ROW_2)
    boxes = tuple(Box(key, titles[key], shown[key], *places[key], width, key in marked)
                  for key in KEYS)
    middle_y = ROW_1 + BOX_H / 2
    arrows = [Arrow(MARGIN + column * step + width, middle_y, MARGIN + (column + 1) * step,
                    middle_y, i18n.t(f"pipeline.edge.{key}", lang))
              for column, key in enumerate(("ec2", "alarm", "sns", "lambda"))]
    centre = lambda_x + width / 2
    arrows.append(Arrow(centre - 30, ROW_1 + BOX_H, places["kms"][0] + width / 2, ROW_2,
                        i18n.t("pipeline.edge.kms", lang), heads="both"))
    arrows.append(Arrow(centre + 30, ROW_1 + BOX_H, places["iam"][0] + width / 2, ROW_2,
                        i18n.t("pipeline.edge.iam", lang), heads="none"))
    total = MARGIN * 2 + 4 * step + width
    return Diagram(total, ROW_2 + BOX_H + 20, boxes, tuple(arrows))


def _text_width(text: str, size: float) -> float:
    """About how wide *text* is at font *size*: Hangul is square, Latin about 0.6 as wide."""
    return sum(size if "\uac00" <= char <= "\ud7a3" else 0.62 * size for char in text)


# -- SVG ------------------------------------------------------------------------------------------
def diagram_svg(diagram: Diagram) -> str:
    """*diagram* as a standalone SVG document."""
    w, h = f"{diagram.width:g}", f"{diagram.height:g}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" font-family="{escape(FONTS)}">',
             # Two markers rather than SVG 2's orient="auto-start-reverse", which older
             # slide programs do not know.
             '<defs><marker id="arrow" markerWidth="10" markerHeight="7" refX="9" refY="3.5" '
             f'orient="auto"><polygon points="0 0, 10 3.5, 0 7" fill="{COLOURS["line"]}"/>'
             '</marker><marker id="arrow-back" markerWidth="10" markerHeight="7" refX="1" '
             f'refY="3.5" orient="auto"><polygon points="10 0, 0 3.5, 10 7" '
             f'fill="{COLOURS["line"]}"/></marker></defs>']
    for arrow in diagram.arrows:
        heads = {"end": ' marker-end="url(#arrow)"',
                 "both": ' marker-start="url(#arrow-back)" marker-end="url(#arrow)"',
                 "none": ' stroke-dasharray="5 4"'}[arrow.heads]
        parts.append(f'<line x1="{arrow.x1:g}" y1="{arrow.y1:g}" x2="{arrow.x2:g}" '
                     f'y2="{arrow.y2:g}" stroke="{COLOURS["line"]}" stroke-width="2"{heads}/>')
        x, y = _label_place(arrow)
        parts.append(f'<text x="{x:g}" y="{y:g}" text-anchor="{_anchor(arrow)}" font-size="11" '
                     f'fill="{COLOURS["sub"]}">{escape(arrow.label)}</text>')
    for box in diagram.boxes:
        fill, stroke = ((COLOURS["fill_on"], COLOURS["stroke_on"]) if box.on
                        else (COLOURS["fill"], COLOURS["stroke"]))
        parts.append(f'<rect x="{box.x:g}" y="{box.y:g}" width="{box.width:g}" height="{BOX_H}" '
                     f'rx="8" fill="{fill}" stroke="{stroke}" '
                     f'stroke-width="{3 if box.on else 1.5}"/>')
        parts.append(f'<text x="{box.x + box.width / 2:g}" y="{box.y + 26:g}" '
                     f'text-anchor="middle" font-size="14" font-weight="bold">'
                     f'{escape(box.title)}</text>')
        parts.append(f'<text x="{box.x + box.width / 2:g}" y="{box.y + 45:g}" '
                     f'text-anchor="middle" font-size="11" fill="{COLOURS["sub"]}">'
                     f'{escape(box.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _label_place(arrow: Arrow) -> tuple[float, float]:
    """Where an arrow's label goes: above a level arrow, beside a slanted one."""
    x, y = arrow.middle
    if arrow.y1 == arrow.y2:
        return x, y - 6
    return (x - 10, y + 4) if arrow.x2 < arrow.x1 else (x + 10, y + 4)


def _anchor(arrow: Arrow) -> str:
    if arrow.y1 == arrow.y2:
        return "middle"
    return "end" if arrow.x2 < arrow.x1 else "start"


def pipeline_svg(highlight: str | tuple[str, ...] = (), names: Names | None = None,
                 channel: str = DEFAULT_SLACK_CHANNEL, lang: str | None = None) -> str:
    """An SVG drawing of the lab's pipeline; boxes whose key is in *highlight* stand out.

    The keys are ``ec2`` (the bastion), ``alarm``, ``sns``, ``lambda``, ``slack``, ``kms`` and
    ``iam``. *names* are the learner's (default: the source lab's); *lang* the labels' language
    (default: the current one).
    """
    return diagram_svg(layout(highlight, names, channel, lang))


# -- PNG ------------------------------------------------------------------------------------------
def pipeline_png(diagram: Diagram, path: str | Path, scale: float = 2.0) -> None:
    """Draw *diagram* into the PNG file *path*, *scale* pixels per drawing unit.

    Korean labels need a font with Hangul: a LabError names one to install when none is.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from ..errors import LabError
    from .fonts import has_hangul, hangul_font

    texts = [part for box in diagram.boxes for part in (box.title, box.name)]
    texts += [arrow.label for arrow in diagram.arrows]
    family: list[str] = ["DejaVu Sans"]
    if any(has_hangul(text) for text in texts):
        found = hangul_font()
        if found is None:
            raise LabError(i18n.t("diagram.no_hangul_font.what"),
                           i18n.t("diagram.no_hangul_font.todo"))
        family = [found, "DejaVu Sans"]
    # Figure() without pyplot: no window, no global state, any backend.
    figure = Figure(figsize=(diagram.width / 100, diagram.height / 100), dpi=100 * scale)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, diagram.width)
    axes.set_ylim(diagram.height, 0)  # y grows downwards, as in SVG
    axes.set_axis_off()
    # Font sizes in points: one drawing unit is 0.72 pt at 100 dpi.
    size = 0.72
    for arrow in diagram.arrows:
        style = {"end": "-|>", "both": "<|-|>", "none": "-"}[arrow.heads]
        axes.add_patch(FancyArrowPatch(
            (arrow.x1, arrow.y1), (arrow.x2, arrow.y2), arrowstyle=style, mutation_scale=12,
            color=COLOURS["line"], linewidth=1.5, shrinkA=0, shrinkB=0,
            linestyle="--" if arrow.heads == "none" else "-"))
        x, y = _label_place(arrow)
        axes.text(x, y, arrow.label, ha={"middle": "center", "start": "left", "end": "right"}[
            _anchor(arrow)], va="baseline", fontsize=11 * size, color=COLOURS["sub"],
            family=family)
    for box in diagram.boxes:
        axes.add_patch(FancyBboxPatch(
            (box.x, box.y), box.width, BOX_H, boxstyle="round,pad=0,rounding_size=8",
            facecolor=COLOURS["fill_on" if box.on else "fill"],
            edgecolor=COLOURS["stroke_on" if box.on else "stroke"],
            linewidth=(3 if box.on else 1.5) * size))
        middle = box.x + box.width / 2
        axes.text(middle, box.y + 26, box.title, ha="center", va="baseline",
                  fontsize=14 * size, fontweight="bold", family=family)
        axes.text(middle, box.y + 45, box.name, ha="center", va="baseline", fontsize=11 * size,
                  color=COLOURS["sub"], family=family)
    figure.savefig(str(path), format="png", facecolor="white")


# -- in a notebook --------------------------------------------------------------------------------
class Pipeline:
    """The pipeline picture as a notebook display object."""

    def __init__(self, highlight: str | tuple[str, ...] = (), lab: Any = None) -> None:
        self.highlight = highlight
        self.lab = lab

    def diagram(self) -> Diagram:
        """The layout for the lab (its names, channel and language) or the source lab's."""
        if self.lab is None:
            return layout(self.highlight)
        return layout(self.highlight, self.lab.names, self.lab.config.slack_channel,
                      self.lab.config.lang)

    def _repr_svg_(self) -> str:
        return diagram_svg(self.diagram())

    def __repr__(self) -> str:
        boxes = {box.key: box.title for box in self.diagram().boxes}
        return (f"{boxes['ec2']} -> {boxes['alarm']} -> {boxes['sns']} -> {boxes['lambda']} "
                f"({boxes['kms']}, {boxes['iam']}) -> {boxes['slack']}")


def show_pipeline(highlight: str | tuple[str, ...] = (), lab: Any = None) -> Pipeline:
    """The picture of the pipeline with the step's part highlighted (display it in a cell).

    With *lab*, the boxes show the learner's names and channel, in the lab's language;
    without, the source lab's names in the current language.
    """
    return Pipeline(highlight, lab)


class Table:
    """A small table for notebooks: HTML for people, aligned text for logs."""

    def __init__(self, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        self.header = header
        self.rows = rows

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{escape(c)}</td>"
                                        for c in row) + "</tr>" for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        widths = [max(len(str(r[i])) for r in [self.header, *self.rows])
                  for i in range(len(self.header))]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
                         for row in [self.header, *self.rows])
