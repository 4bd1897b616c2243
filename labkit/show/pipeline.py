"""Pictures for the notebooks: the pipeline, with the part a step builds highlighted."""

from __future__ import annotations

from html import escape

# (key, label, sub-label, x, y) of each box; the main flow runs left to right.
BOXES = [
    ("alarm", "CloudWatch alarm", "mission-cpu-alarm", 10, 20),
    ("sns", "SNS topic", "mission-sns", 200, 20),
    ("lambda", "Lambda function", "mission-lambda", 390, 20),
    ("slack", "Slack channel", "#project", 580, 20),
    ("kms", "KMS key", "decrypts the webhook", 300, 130),
    ("iam", "IAM role", "allows kms:Decrypt", 480, 130),
]
ARROWS = [((170, 50), (200, 50)), ((360, 50), (390, 50)), ((550, 50), (580, 50)),
          ((440, 80), (400, 130)), ((500, 80), (540, 130))]
WIDTH, HEIGHT, BOX_W, BOX_H = 750, 200, 160, 60


def pipeline_svg(highlight: str | tuple[str, ...] = ()) -> str:
    """An SVG drawing of the lab's pipeline; boxes whose key is in *highlight* stand out."""
    marked = {highlight} if isinstance(highlight, str) else set(highlight)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">',
             '<defs><marker id="arrow" markerWidth="10" markerHeight="7" refX="9" refY="3.5" '
             'orient="auto"><polygon points="0 0, 10 3.5, 0 7" fill="#555"/></marker></defs>']
    for (x1, y1), (x2, y2) in ARROWS:
        parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555" '
                     'stroke-width="2" marker-end="url(#arrow)"/>')
    for key, label, sub, x, y in BOXES:
        on = key in marked
        fill, stroke = ("#fff4e5", "#e8912d") if on else ("#f4f6f8", "#9aa5b1")
        parts.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" '
                     f'fill="{fill}" stroke="{stroke}" stroke-width="{3 if on else 1.5}"/>')
        parts.append(f'<text x="{x + BOX_W / 2}" y="{y + 26}" text-anchor="middle" '
                     f'font-size="14" font-weight="bold">{escape(label)}</text>')
        parts.append(f'<text x="{x + BOX_W / 2}" y="{y + 45}" text-anchor="middle" '
                     f'font-size="11" fill="#555">{escape(sub)}</text>')
    parts.append("</svg>")
    return "".join(parts)


class Pipeline:
    """The pipeline picture as a notebook display object."""

    def __init__(self, highlight: str | tuple[str, ...] = ()) -> None:
        self.highlight = highlight

    def _repr_svg_(self) -> str:
        return pipeline_svg(self.highlight)

    def __repr__(self) -> str:
        return "CloudWatch alarm -> SNS topic -> Lambda (KMS, IAM) -> Slack"


def show_pipeline(highlight: str | tuple[str, ...] = ()) -> Pipeline:
    """The picture of the pipeline with the step's part highlighted (display it in a cell)."""
    return Pipeline(highlight)


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
