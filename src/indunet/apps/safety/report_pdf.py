"""A safety-production report as an A4 PDF, drawn with reportlab.

Fonts are the PDF standard Helvetica and Symbol and reportlab's built-in CID font STSong-Light, which
readers supply themselves, so nothing is embedded or fetched and the renderer works offline. Text is set
in runs: what Windows-1252 covers in Helvetica, Greek and mathematical signs (α, β, Σ, ≥) in Symbol and
the rest, Chinese above all, in STSong-Light. So Latin text and numbers keep Latin metrics inside Chinese
text, and an English report needs no Chinese font in the reader unless the data has Chinese names.
Charts are reportlab drawings of the shapes ``report_document`` lays out, so they stay vector and searchable.

The footer says "page N of M", and M is known only once the story is laid out, so the document is
built twice: the first pass counts the pages, the second draws the footers.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from functools import cache
from itertools import groupby
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics import shapes as rl
from reportlab.lib.colors import HexColor, white
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer
from reportlab.platypus import Table as RLTable

from indunet.apps.safety.report_document import (
    INK,
    LEVEL_COLOURS,
    MUTED,
    RULE,
    Block,
    Box,
    Chart,
    Document,
    Dot,
    Fields,
    Label,
    Line,
    Note,
    Path,
    Table,
    Tiles,
    build_document,
)
from indunet.core.i18n import translate

CJK_FONT = "STSong-Light"
_MARGIN = 2 * cm
_WIDTH = A4[0] - 2 * _MARGIN
_HEADER_FILL = HexColor("#eceff1")


@cache
def _register_cjk() -> None:
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _face(ch: str) -> str | None:
    """The font for a character outside the Helvetica family, or None for Helvetica."""
    if _encodes(ch, "cp1252"):
        return None
    return "Symbol" if _encodes(ch, "symbol") else CJK_FONT


def _runs(text: str, latin: str = "Helvetica") -> list[tuple[str, str]]:
    """``text`` as (font, run) pairs, ``latin`` being the Helvetica face the context asks for."""
    return [(face or latin, "".join(chars)) for face, chars in groupby(text, key=_face)]


def _draw_runs(canvas: Any, x: float, y: float, text: str, size: float, right: bool = False) -> None:
    runs = _runs(text)
    if right:
        x -= sum(pdfmetrics.stringWidth(run, font, size) for font, run in runs)
    for font, run in runs:
        canvas.setFont(font, size)
        canvas.drawString(x, y, run)
        x += pdfmetrics.stringWidth(run, font, size)


class _Type:
    """Paragraph styles of one language: the languages differ only in where lines may break."""

    def __init__(self, language: str) -> None:
        regular, bold = "Helvetica", "Helvetica-Bold"
        # Chinese has no spaces to break at; "CJK" wrapping breaks between any two characters.
        wrap = "CJK" if language == "zh-CN" else None

        def style(
            name: str, size: float, font: str = regular, colour: str = INK, **kw: Any
        ) -> ParagraphStyle:
            return ParagraphStyle(
                name,
                fontName=font,
                fontSize=size,
                leading=size * 1.25,
                textColor=HexColor(colour),
                wordWrap=wrap,
                **kw,
            )

        self.title = style("title", 17, bold, spaceAfter=4)
        self.line = style("line", 9, colour=MUTED)
        self.heading = style("heading", 12, bold, spaceBefore=14, spaceAfter=5, keepWithNext=1)
        self.caption = style("caption", 9, bold, spaceBefore=6, spaceAfter=3, keepWithNext=1)
        self.note = style("note", 8, colour=MUTED, spaceBefore=2, spaceAfter=4)
        self.cell_note = style("cell_note", 7.5, colour=MUTED)
        self.label = style("label", 9, colour=MUTED)
        self.value = style("value", 9)
        self.head = style("head", 7.5, bold)
        self.cell = style("cell", 7.5)
        self.number = style("number", 7.5, alignment=TA_RIGHT)
        self.tile_value = style("tile_value", 14, bold)
        self.tile_label = style("tile_label", 7.5, colour=MUTED)

    @staticmethod
    def markup(text: str) -> str:
        """``text`` escaped for a Paragraph, with the runs Helvetica cannot show in their own fonts."""
        return "".join(
            escape(run) if font == "" else f'<font face="{font}">{escape(run)}</font>'
            for font, run in _runs(text, latin="")
        )

    def para(self, text: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(self.markup(text), style)


def _drawing(chart: Chart) -> rl.Drawing:
    drawing = rl.Drawing(chart.width, chart.height)
    top = chart.height
    for shape in chart.shapes:
        match shape:
            case Line():
                drawing.add(
                    rl.Line(
                        shape.x1,
                        top - shape.y1,
                        shape.x2,
                        top - shape.y2,
                        strokeColor=HexColor(shape.colour),
                        strokeWidth=shape.width,
                        strokeDashArray=[3, 2] if shape.dashed else None,
                    )
                )
            case Path():
                flat = [v for x, y in shape.points for v in (x, top - y)]
                drawing.add(
                    rl.PolyLine(
                        flat, strokeColor=HexColor(shape.colour), strokeWidth=shape.width, strokeLineJoin=1
                    )
                )
            case Box():
                drawing.add(
                    rl.Rect(
                        shape.x,
                        top - shape.y - shape.h,
                        shape.w,
                        shape.h,
                        fillColor=HexColor(shape.colour),
                        strokeColor=None,
                    )
                )
            case Dot():
                drawing.add(
                    rl.Circle(
                        shape.x, top - shape.y, shape.r, fillColor=HexColor(shape.colour), strokeColor=None
                    )
                )
            case Label():
                runs = _runs(shape.text)
                widths = [pdfmetrics.stringWidth(run, font, shape.size) for font, run in runs]
                x = shape.x - {"start": 0.0, "middle": sum(widths) / 2, "end": sum(widths)}[shape.anchor]
                for (font, run), width in zip(runs, widths, strict=True):
                    drawing.add(
                        rl.String(
                            x,
                            top - shape.y,
                            run,
                            fontName=font,
                            fontSize=shape.size,
                            fillColor=HexColor(shape.colour),
                        )
                    )
                    x += width
    return drawing


def _table(table: Table, ty: _Type) -> list[Flowable]:
    total = sum(table.widths)
    ncols = len(table.headers)
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, HexColor(RULE)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    data: list[list[Any]] = []
    if table.groups:
        row: list[Any] = []
        for label, span in table.groups:
            commands.append(("SPAN", (len(row), 0), (len(row) + span - 1, 0)))
            row.extend(
                [Paragraph(ty.markup(label), ParagraphStyle("group", ty.head, alignment=TA_CENTER))]
                + [""] * (span - 1)
            )
        data.append(row)
    data.append([ty.para(h, ty.head) for h in table.headers])
    head_rows = len(data)
    commands.append(("BACKGROUND", (0, 0), (-1, head_rows - 1), _HEADER_FILL))
    for source in table.rows:
        r = len(data)
        cells: list[Any] = []
        for c, cell in enumerate(source.cells):
            style = ty.number if cell.number else ty.cell
            if cell.level:
                # Yellow is too light for white text, so it keeps the ink colour.
                colour = HexColor(INK) if cell.level == 3 else white
                style = ParagraphStyle(f"lv{cell.level}", style, textColor=colour)
                commands.append(("BACKGROUND", (c, r), (c, r), HexColor(LEVEL_COLOURS[cell.level])))
            cells.append(ty.para(cell.text, style))
        data.append(cells)
        if source.notes:
            data.append([[ty.para(note, ty.cell_note) for note in source.notes]] + [""] * (ncols - 1))
            commands.append(("SPAN", (0, r + 1), (-1, r + 1)))
    widths = [_WIDTH * w / total for w in table.widths]
    flowables: list[Flowable] = [ty.para(table.caption, ty.caption)] if table.caption else []
    flowables.append(RLTable(data, colWidths=widths, repeatRows=head_rows, style=commands, hAlign="LEFT"))
    return flowables


def _tiles(tiles: Tiles, ty: _Type) -> list[Flowable]:
    gap = 6.0
    n = len(tiles.tiles)
    width = (_WIDTH - gap * (n - 1)) / n
    row: list[Any] = []
    commands: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP")]
    for i, tile in enumerate(tiles.tiles):
        c = 2 * i
        if i:
            row.append("")
        row.append([ty.para(tile.value, ty.tile_value), ty.para(tile.label, ty.tile_label)])
        accent = LEVEL_COLOURS[tile.level] if tile.level else "#90a4ae"
        commands += [
            ("BOX", (c, 0), (c, 0), 0.5, HexColor(RULE)),
            ("LINEABOVE", (c, 0), (c, 0), 3, HexColor(accent)),
        ]
    widths = [width if i % 2 == 0 else gap for i in range(2 * n - 1)]
    flowables: list[Flowable] = [ty.para(tiles.caption, ty.caption)] if tiles.caption else []
    flowables.append(RLTable([row], colWidths=widths, style=commands, hAlign="LEFT"))
    return flowables


def _block(block: Block, ty: _Type) -> list[Flowable]:
    match block:
        case Fields():
            rows = [[ty.para(k, ty.label), ty.para(v, ty.value)] for k, v in block.pairs]
            return [
                Spacer(1, 6),
                RLTable(
                    rows,
                    colWidths=[130, _WIDTH - 130],
                    hAlign="LEFT",
                    style=[
                        ("LEFTPADDING", (0, 0), (-1, -1), 0),
                        ("TOPPADDING", (0, 0), (-1, -1), 1),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                    ],
                ),
            ]
        case Tiles():
            return _tiles(block, ty)
        case Table():
            return _table(block, ty)
        case Chart():
            return [ty.para(block.caption, ty.caption), _drawing(block)]
        case Note():
            return [ty.para(block.text, ty.note)]


def _story(document: Document, ty: _Type) -> list[Flowable]:
    story: list[Flowable] = [ty.para(document.title, ty.title)]
    story += [ty.para(line, ty.line) for line in document.lines]
    for section in document.sections:
        if section.heading:
            story.append(ty.para(section.heading, ty.heading))
        for block in section.blocks:
            story += _block(block, ty)
    return story


def _footer(document: Document, pages: int | None) -> Callable[[Any, Any], None]:
    generated = translate("report.safety.generated", document.language, time=document.generated)

    def draw(canvas: Any, doc: Any) -> None:
        if pages is None:
            return
        page = translate("report.safety.page", document.language, page=doc.page, pages=pages)
        y = _MARGIN * 0.55
        canvas.saveState()
        canvas.setStrokeColor(HexColor(RULE))
        canvas.setLineWidth(0.4)
        canvas.line(_MARGIN, y + 10, A4[0] - _MARGIN, y + 10)
        canvas.setFillColor(HexColor(MUTED))
        _draw_runs(canvas, _MARGIN, y, generated, 7.5)
        _draw_runs(canvas, A4[0] - _MARGIN, y, page, 7.5, right=True)
        canvas.restoreState()

    return draw


def _build(document: Document, ty: _Type, pages: int | None) -> tuple[bytes, int]:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN * 0.8,
        bottomMargin=_MARGIN,
        title=document.title,
        author="indunet",
        creator="indunet",
        lang=document.language,
    )
    footer = _footer(document, pages)
    doc.build(_story(document, ty), onFirstPage=footer, onLaterPages=footer)
    return out.getvalue(), int(doc.page)


def render_pdf(report: Mapping[str, Any], language: str = "en") -> bytes:
    """The report as an A4 portrait PDF in ``language`` ("en" or "zh-CN")."""
    _register_cjk()
    document = build_document(report, language)
    ty = _Type(document.language)
    _, pages = _build(document, ty, None)
    data, _ = _build(document, ty, pages)
    return data
