"""A safety-production report as one self-contained HTML page.

Everything is inline (CSS in a ``<style>`` element, charts as SVG, no script, no font or image to
fetch) because the product runs offline and the page is mailed and archived as a single file. Print
styles lay it out on A4. Every string taken from the report is escaped: titles, names and causes are
typed by users.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from indunet.apps.safety.report_document import (
    INK,
    LEVEL_COLOURS,
    MUTED,
    RULE,
    Block,
    Box,
    Cell,
    Chart,
    Dot,
    Fields,
    Label,
    Line,
    Note,
    Path,
    Table,
    Tiles,
    build_document,
    compact,
)
from indunet.core.i18n import translate

_CSS = """
@page { size: A4; margin: 16mm 15mm 18mm; @bottom-right { content: PAGE_COUNTER; font-size: 8pt; color: MUTED; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 190mm; padding: 10mm 0; color: INK; font: 9.5pt/1.45 "Helvetica Neue",
  Helvetica, Arial, "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { font-size: 17pt; margin: 0 0 3pt; }
.lines p { margin: 0; color: MUTED; }
h2 { font-size: 12pt; margin: 16pt 0 6pt; padding-bottom: 2pt; border-bottom: 1px solid RULE; break-after: avoid; }
.caption { font-weight: bold; margin: 9pt 0 4pt; break-after: avoid; }
.note { color: MUTED; font-size: 8.5pt; margin: 4pt 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 1pt 12pt; margin: 10pt 0 0; }
dt { color: MUTED; }
dd { margin: 0; }
table { width: 100%; border-collapse: collapse; font-size: 8pt; table-layout: fixed; }
thead { display: table-header-group; }
th, td { border: 1px solid RULE; padding: 2pt 4pt; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: #eceff1; font-weight: bold; }
th.group { text-align: center; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr { break-inside: avoid; }
tr.note td { color: MUTED; border-top: none; }
.tiles { display: flex; gap: 6pt; flex-wrap: wrap; }
.tile { flex: 1 1 0; min-width: 26mm; padding: 4pt 6pt; border: 1px solid RULE; border-top: 3pt solid #90a4ae;
  break-inside: avoid; }
.tile b { display: block; font-size: 14pt; }
.tile span { color: MUTED; font-size: 8pt; }
svg { display: block; width: 100%; height: auto; break-inside: avoid; }
footer { margin-top: 16pt; padding-top: 3pt; border-top: 1px solid RULE; color: MUTED; font-size: 8pt; }
@media print { body { max-width: none; padding: 0; } }
"""


def _level_css() -> str:
    # Yellow is too light for white text, so it takes the ink colour.
    rules = []
    for level, colour in LEVEL_COLOURS.items():
        text = INK if level == 3 else "#fff"
        rules.append(f"td.lv{level} {{ background: {colour}; color: {text}; }}")
        rules.append(f".tile.lv{level} {{ border-top-color: {colour}; }}")
    return "\n".join(rules)


def _page_counter(language: str) -> str:
    """The catalog's "page X of N" as a CSS content value, for browsers that print @page margin boxes."""
    template = translate("report.safety.page", language, page="\x00page\x00", pages="\x00pages\x00")
    parts = template.split("\x00")
    return " ".join(f"counter({p})" if i % 2 else f'"{p}"' for i, p in enumerate(parts) if p)


def _css(language: str) -> str:
    css = _CSS
    for name, value in (("MUTED", MUTED), ("RULE", RULE), ("INK", INK)):
        css = css.replace(name, value)
    return css.replace("PAGE_COUNTER", _page_counter(language)) + _level_css()


def _svg(chart: Chart) -> str:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {compact(chart.width)} {compact(chart.height)}"'
        f' role="img" aria-label="{escape(chart.caption)}">'
    ]
    for shape in chart.shapes:
        match shape:
            case Line():
                dash = ' stroke-dasharray="3 2"' if shape.dashed else ""
                out.append(
                    f'<line x1="{compact(shape.x1)}" y1="{compact(shape.y1)}" x2="{compact(shape.x2)}"'
                    f' y2="{compact(shape.y2)}" stroke="{shape.colour}" stroke-width="{shape.width}"{dash}/>'
                )
            case Path():
                points = " ".join(f"{compact(x)},{compact(y)}" for x, y in shape.points)
                out.append(
                    f'<polyline points="{points}" fill="none" stroke="{shape.colour}"'
                    f' stroke-width="{shape.width}" stroke-linejoin="round"/>'
                )
            case Box():
                out.append(
                    f'<rect x="{compact(shape.x)}" y="{compact(shape.y)}" width="{compact(shape.w)}"'
                    f' height="{compact(shape.h)}" fill="{shape.colour}"/>'
                )
            case Dot():
                out.append(
                    f'<circle cx="{compact(shape.x)}" cy="{compact(shape.y)}" r="{shape.r}" fill="{shape.colour}"/>'
                )
            case Label():
                out.append(
                    f'<text x="{compact(shape.x)}" y="{compact(shape.y)}" font-size="{shape.size}"'
                    f' text-anchor="{shape.anchor}" fill="{shape.colour}">{escape(shape.text)}</text>'
                )
    out.append("</svg>")
    return "".join(out)


def _td(cell: Cell) -> str:
    classes = " ".join(
        c for c in ("num" if cell.number else "", f"lv{cell.level}" if cell.level else "") if c
    )
    attr = f' class="{classes}"' if classes else ""
    return f"<td{attr}>{escape(cell.text)}</td>"


def _table(table: Table) -> str:
    total = sum(table.widths)
    cols = "".join(f'<col style="width:{100 * w / total:.1f}%">' for w in table.widths)
    head = []
    if table.groups:
        head.append(
            "<tr>"
            + "".join(
                f'<th class="group" colspan="{span}">{escape(label)}</th>' for label, span in table.groups
            )
            + "</tr>"
        )
    head.append("<tr>" + "".join(f"<th>{escape(h)}</th>" for h in table.headers) + "</tr>")
    body = []
    for row in table.rows:
        body.append("<tr>" + "".join(_td(c) for c in row.cells) + "</tr>")
        if row.notes:
            notes = "<br>".join(escape(note) for note in row.notes)
            body.append(f'<tr class="note"><td colspan="{len(row.cells)}">{notes}</td></tr>')
    return (
        f"{_caption(table.caption)}<table><colgroup>{cols}</colgroup><thead>{''.join(head)}</thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _tiles(tiles: Tiles) -> str:
    items = "".join(
        f'<div class="tile{f" lv{t.level}" if t.level else ""}"><b>{escape(t.value)}</b>'
        f"<span>{escape(t.label)}</span></div>"
        for t in tiles.tiles
    )
    return f'{_caption(tiles.caption)}<div class="tiles">{items}</div>'


def _caption(text: str) -> str:
    return f'<p class="caption">{escape(text)}</p>' if text else ""


def _block(block: Block) -> str:
    match block:
        case Fields():
            return (
                "<dl>"
                + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in block.pairs)
                + "</dl>"
            )
        case Tiles():
            return _tiles(block)
        case Table():
            return _table(block)
        case Chart():
            return _caption(block.caption) + _svg(block)
        case Note():
            return f'<p class="note">{escape(block.text)}</p>'


def render_html(report: Mapping[str, Any], language: str = "en") -> str:
    """The report as a complete HTML document in ``language`` ("en" or "zh-CN")."""
    document = build_document(report, language)
    out = [
        f'<!DOCTYPE html>\n<html lang="{document.language}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(document.title)}</title><style>{_css(document.language)}</style></head><body>",
        f'<header><h1>{escape(document.title)}</h1><div class="lines">',
        *(f"<p>{escape(line)}</p>" for line in document.lines),
        "</div></header><main>",
    ]
    for section in document.sections:
        out.append("<section>")
        if section.heading:
            out.append(f"<h2>{escape(section.heading)}</h2>")
        out.extend(_block(block) for block in section.blocks)
        out.append("</section>")
    generated = translate("report.safety.generated", document.language, time=document.generated)
    out.append(f"</main><footer>{escape(generated)}</footer></body></html>\n")
    return "".join(out)
