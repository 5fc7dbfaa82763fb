"""What a safety-production report shows, independent of how it is drawn.

``build_document`` turns a report dict into sections of blocks: fields, key-figure tiles, tables of text
cells and charts as plain shapes. ``report_html`` draws them as HTML with inline SVG and ``report_pdf``
with reportlab, so the order, labels, number formats, sorting and chart geometry live here once and the
two outputs cannot drift apart.

Chart shapes are in points on a y-down canvas, as in SVG, with text placed at its baseline; the PDF
renderer flips y. Text widths are estimated (CJK characters one em, others a little over half), which is
all the layout needs: it only thins axis labels and spaces the legend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from indunet.apps.safety.levels import LEVELS
from indunet.core.i18n import catalog, normalise_language, translate

LEVEL_COLOURS = {1: "#d32f2f", 2: "#f57c00", 3: "#fbc02d", 4: "#1976d2"}
INK = "#212121"
MUTED = "#607d8b"
RULE = "#cfd8dc"
LINE = "#37474f"
DASH = "—"

GRADE_FLOORS = (("A", 90.0), ("B", 75.0), ("C", 60.0))
"""Lowest index of each grade; below the last is D."""

CHART_WIDTH = 480.0
"""Fits the text width of A4 with 2 cm margins, so the PDF draws charts at their natural size."""
CHART_HEIGHT = 180.0

Anchor = Literal["start", "middle", "end"]


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    colour: str
    width: float = 0.5
    dashed: bool = False


@dataclass(frozen=True)
class Path:
    points: tuple[tuple[float, float], ...]
    colour: str
    width: float


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    colour: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    r: float
    colour: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    size: float = 7.0
    anchor: Anchor = "start"
    colour: str = MUTED


Shape = Line | Path | Box | Dot | Label


@dataclass(frozen=True)
class Chart:
    caption: str
    width: float
    height: float
    shapes: tuple[Shape, ...]


@dataclass(frozen=True)
class Cell:
    text: str
    level: int | None = None
    """A warning or hazard level: the cell is filled with that level's colour."""
    number: bool = False


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    notes: tuple[str, ...] = ()
    """Lines of free text under the row across the whole table (an incident's cause and evidence)."""


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    widths: tuple[float, ...]
    """Relative column widths."""
    rows: tuple[Row, ...]
    caption: str = ""
    groups: tuple[tuple[str, int], ...] = ()
    """An optional header row above ``headers``: labels with the number of columns each spans."""


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    level: int | None = None


@dataclass(frozen=True)
class Tiles:
    tiles: tuple[Tile, ...]
    caption: str = ""


@dataclass(frozen=True)
class Fields:
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Note:
    text: str


Block = Fields | Tiles | Table | Chart | Note


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    language: str
    title: str
    lines: tuple[str, ...]
    """Under the title: kind of report, period, time generated."""
    generated: str
    sections: tuple[Section, ...]


def text_width(text: str, size: float) -> float:
    return sum(size if ord(ch) >= 0x2E80 else 0.56 * size for ch in text)


def compact(value: float) -> str:
    """A coordinate with no more digits than a drawing needs."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _step(span: float, most: int) -> float:
    raw = span / most
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)


def _day_label(date: str) -> str:
    # "2026-11-01" to "11-01": the period heading already names the year.
    return date[5:] if len(date) == 10 and date[4] == "-" else date


def _x_label_every(count: int, plot_width: float) -> int:
    return max(1, math.ceil(count / max(1.0, plot_width // 32)))


def _frame(
    left: float,
    top: float,
    plot_w: float,
    plot_h: float,
    ticks: Sequence[float],
    lo: float,
    hi: float,
    fmt: str,
) -> list[Shape]:
    shapes: list[Shape] = []
    for tick in ticks:
        y = top + plot_h * (1 - (tick - lo) / (hi - lo))
        shapes.append(Line(left, y, left + plot_w, y, RULE, 0.4))
        shapes.append(Label(left - 4, y + 2.4, format(tick, fmt), anchor="end"))
    shapes.append(Line(left, top + plot_h, left + plot_w, top + plot_h, LINE, 0.7))
    return shapes


def _empty_chart(caption: str, empty: str, width: float) -> Chart:
    # A short strip: a full-height blank plot would only push the next sections down.
    height = 36.0
    return Chart(
        caption,
        width,
        height,
        (
            Line(0, height - 0.5, width, height - 0.5, RULE, 0.5),
            Label(width / 2, height / 2, empty, 8.0, "middle"),
        ),
    )


def line_chart(
    caption: str,
    points: Sequence[tuple[str, float]],
    empty: str,
    width: float = CHART_WIDTH,
    height: float = CHART_HEIGHT,
) -> Chart:
    """The index per day on a value axis fitted to the data, with the grade floors as dashed guides."""
    if not points:
        return _empty_chart(caption, empty, width)
    left, right, top, bottom = 30.0, 18.0, 8.0, 22.0
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, v in points]
    cap = max(100.0, max(values))
    lo_raw, hi_raw = max(0.0, min(values) - 2), min(cap, max(values) + 2)
    if hi_raw - lo_raw < 10:
        # A flat series would fill the plot with noise: show at least ten index points.
        lo_raw = max(0.0, min(lo_raw, hi_raw - 10))
        hi_raw = min(cap, lo_raw + 10)
    step = _step(hi_raw - lo_raw, 5)
    lo, hi = math.floor(lo_raw / step) * step, math.ceil(hi_raw / step) * step
    ticks = [lo + i * step for i in range(round((hi - lo) / step) + 1)]
    shapes = _frame(left, top, plot_w, plot_h, ticks, lo, hi, "g")

    def y_of(value: float) -> float:
        return top + plot_h * (1 - (value - lo) / (hi - lo))

    for grade, floor in GRADE_FLOORS:
        if lo < floor < hi:
            shapes.append(Line(left, y_of(floor), left + plot_w, y_of(floor), MUTED, 0.5, dashed=True))
            shapes.append(Label(left + plot_w + 4, y_of(floor) - 2, grade))
    n = len(points)
    xs = [left + plot_w / 2] if n == 1 else [left + plot_w * i / (n - 1) for i in range(n)]
    coords = tuple((x, y_of(v)) for x, v in zip(xs, values, strict=True))
    if n > 1:
        shapes.append(Path(coords, LINE, 1.4))
    if n <= 31:
        shapes.extend(Dot(x, y, 1.8, LINE) for x, y in coords)
    every = _x_label_every(n, plot_w)
    shapes.extend(
        Label(xs[i], top + plot_h + 11, _day_label(points[i][0]), anchor="middle") for i in range(0, n, every)
    )
    return Chart(caption, width, height, tuple(shapes))


def stacked_bar_chart(
    caption: str,
    days: Sequence[tuple[str, Mapping[int, int]]],
    legend: Mapping[int, str],
    empty: str,
    width: float = CHART_WIDTH,
    height: float = CHART_HEIGHT,
) -> Chart:
    """Warnings per day, one bar a day with red at the base so the most severe are read off the axis."""
    if not days:
        return _empty_chart(caption, empty, width)
    left, right, top, bottom = 30.0, 18.0, 22.0, 22.0
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(counts.values()) for _, counts in days]
    step = max(1.0, float(math.ceil(_step(max(max(totals), 1), 5))))
    hi = max(step, math.ceil(max(totals) / step) * step)
    ticks = [i * step for i in range(round(hi / step) + 1)]
    shapes = _frame(left, top, plot_w, plot_h, ticks, 0.0, hi, "g")
    slot = plot_w / len(days)
    for i, (_, counts) in enumerate(days):
        base = top + plot_h
        for level in LEVELS:
            h = plot_h * counts.get(level, 0) / hi
            if h > 0:
                base -= h
                shapes.append(Box(left + slot * (i + 0.15), base, slot * 0.7, h, LEVEL_COLOURS[level]))
    every = _x_label_every(len(days), plot_w)
    shapes.extend(
        Label(left + slot * (i + 0.5), top + plot_h + 11, _day_label(days[i][0]), anchor="middle")
        for i in range(0, len(days), every)
    )
    x = left
    for level in LEVELS:
        shapes.append(Box(x, 4, 8, 8, LEVEL_COLOURS[level]))
        shapes.append(Label(x + 11, 11, legend[level], colour=INK))
        x += 11 + text_width(legend[level], 7.0) + 14
    return Chart(caption, width, height, tuple(shapes))


# ---- the report's content ----


def _num(value: Any, digits: int = 1) -> str:
    if value is None or isinstance(value, bool):
        return DASH
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _quantity(value: Any) -> str:
    text = _num(value, 3)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _when(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return DASH if value is None else str(value)


def _zone(value: Any) -> str | None:
    try:
        offset = datetime.fromisoformat(str(value)).strftime("%z")
    except ValueError:
        return None
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else None


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _online_rate(monitoring: Mapping[str, Any]) -> str:
    points = monitoring.get("points") or 0
    return f"{100 * (monitoring.get('online') or 0) / points:.1f}%" if points else DASH


def _counts(by_level: Any) -> dict[int, int]:
    """Counts keyed "1".."4" (as JSON has them) or 1..4, as ints with absent levels at 0."""
    source: Mapping[Any, Any] = by_level if isinstance(by_level, Mapping) else {}
    return {level: int(source.get(str(level), source.get(level)) or 0) for level in LEVELS}


def _level(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value in LEVELS else None


class _Text:
    """The report's strings in one language: catalog messages and the terms the input carries."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, **params: Any) -> str:
        return translate(f"report.safety.{key}", self.language, **params)

    def term(self, group: str, value: Any) -> str:
        """A coded value (a unit kind, a status) in words when the catalog knows it, else as given."""
        key = f"report.safety.{group}.{value}"
        known = key in catalog(self.language) or key in catalog("en")
        return translate(key, self.language) if known else ("" if value is None else str(value))

    def warning(self, level: Any) -> Cell:
        lv = _level(level)
        return Cell(self(f"warning_short.{lv}") if lv else self("no_warning"), lv)

    def duration(self, seconds: Any) -> str:
        value = _number(seconds)
        if value is None:
            return DASH
        s = int(value)
        if s < 60:
            return self("duration.s", s=s)
        if s < 3600:
            return self("duration.m", m=s // 60)
        if s < 86400:
            return self("duration.hm", h=s // 3600, m=s % 3600 // 60)
        return self("duration.dh", d=s // 86400, h=s % 86400 // 3600)


def _list(report: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = report.get(key)
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _header(report: Mapping[str, Any], t: _Text) -> tuple[str, ...]:
    period = report.get("period") or {}
    scope = t.term("scope", report.get("scope", "enterprise"))
    kind = t.term("period", period.get("kind"))
    zone = _zone(period.get("start")) or t("local_time")
    return (
        " · ".join(part for part in (scope, kind) if part),
        t("period_line", start=_when(period.get("start")), end=_when(period.get("end")), zone=zone),
        t("generated", time=_when(report.get("generated_at"))),
    )


def _subject(report: Mapping[str, Any], t: _Text) -> Fields:
    subject = report.get("subject") or {}
    region = " ".join(str(part) for part in (subject.get("region_name"), subject.get("region")) if part)
    code_key = "subject.code_region" if report.get("scope") == "region" else "subject.code_enterprise"
    return Fields(
        (
            (t("subject.name"), str(subject.get("name") or DASH)),
            (t(code_key), str(subject.get("code") or DASH)),
            (t("subject.region"), region or DASH),
        )
    )


def _summary(report: Mapping[str, Any], t: _Text) -> Section:
    index = report.get("index") or {}
    warnings = sum(_counts(report.get("warnings_by_level")).values())
    open_incidents = sum(1 for i in _list(report, "incidents") if i.get("closed_at") is None)
    if report.get("scope") == "region":
        majors = sum(sum(_counts(e.get("major_hazards")).values()) for e in _list(report, "enterprises"))
    else:
        majors = sum(1 for h in _list(report, "hazards") if h.get("major"))
    return Section(
        t("section.summary"),
        (
            Tiles(
                (
                    Tile(t("tile.index", grade=index.get("grade") or DASH), _num(index.get("value"))),
                    Tile(t("tile.warnings"), str(warnings)),
                    Tile(t("tile.open_incidents"), str(open_incidents)),
                    Tile(t("tile.major_hazards"), str(majors)),
                    Tile(t("tile.online_rate"), _online_rate(report.get("monitoring") or {})),
                )
            ),
        ),
    )


def _index(report: Mapping[str, Any], t: _Text) -> Section:
    components = [c for c in (report.get("index") or {}).get("components") or [] if isinstance(c, Mapping)]
    rows = []
    for c in components:
        score, weight = _number(c.get("score")), _number(c.get("weight"))
        weighted = score * weight if score is not None and weight is not None else None
        detail = c.get("detail")
        details = (
            "; ".join(f"{k}: {_plain(v)}" for k, v in detail.items()) if isinstance(detail, Mapping) else ""
        )
        rows.append(
            Row(
                (
                    Cell(t.term("component", c.get("key"))),
                    Cell(_num(score), number=True),
                    Cell(_num(weight, 2), number=True),
                    Cell(_num(weighted), number=True),
                    Cell(details),
                )
            )
        )
    blocks: list[Block] = [Note(t("index.scale"))]
    if rows:
        headers = (t("col.component"), t("col.score"), t("col.weight"), t("col.weighted"), t("col.detail"))
        blocks.append(Table(headers, (2.2, 0.9, 0.9, 1.1, 4.6), tuple(rows)))
    return Section(t("section.index"), tuple(blocks))


def _trend(report: Mapping[str, Any], t: _Text) -> Section:
    points = [
        (str(p.get("date", "")), v)
        for p in _list(report, "index_history")
        if (v := _number(p.get("value"))) is not None
    ]
    return Section(t("section.trend"), (line_chart(t("chart.trend"), points, t("empty")),))


def _warnings(report: Mapping[str, Any], t: _Text) -> Section:
    days = [(str(d.get("date", "")), _counts(d)) for d in _list(report, "warnings_by_day")]
    legend = {level: t(f"warning.{level}") for level in LEVELS}
    chart = stacked_bar_chart(t("chart.warnings"), days, legend, t("empty"))
    by_level = _counts(report.get("warnings_by_level"))
    tiles = [Tile(legend[level], str(by_level[level]), level) for level in LEVELS]
    tiles.append(Tile(t("warnings.total"), str(sum(by_level.values()))))
    return Section(t("section.warnings"), (chart, Tiles(tuple(tiles), t("warnings.by_level"))))


def _enterprises(report: Mapping[str, Any], t: _Text) -> Section:
    enterprises = _list(report, "enterprises")

    def worst_first(e: Mapping[str, Any]) -> tuple[bool, float, str]:
        value = _number(e.get("index"))
        return (value is None, value or 0.0, str(e.get("name", "")))

    rows = []
    for e in sorted(enterprises, key=worst_first):
        majors, warnings = _counts(e.get("major_hazards")), _counts(e.get("open_warnings"))
        rows.append(
            Row(
                (
                    Cell(str(e.get("name") or DASH)),
                    Cell(str(e.get("code") or DASH)),
                    Cell(str(e.get("region") or DASH)),
                    Cell(_num(e.get("index")), number=True),
                    Cell(str(e.get("grade") or DASH)),
                    *(Cell(str(majors[level]), number=True) for level in LEVELS),
                    *(
                        Cell(str(warnings[level]), level if warnings[level] else None, number=True)
                        for level in LEVELS
                    ),
                )
            )
        )
    totals = {level: sum(_counts(e.get("major_hazards"))[level] for e in enterprises) for level in LEVELS}
    counts = Tiles(
        tuple(Tile(t(f"hazard_level.{level}"), str(totals[level]), level) for level in LEVELS),
        t("hazard_counts"),
    )
    if not rows:
        return Section(t("section.enterprises"), (Note(t("empty")), counts))
    table = Table(
        (
            t("col.enterprise"),
            t("col.credit_code"),
            t("col.region"),
            t("col.index"),
            t("col.grade"),
            *(t(f"hazard_level_short.{level}") for level in LEVELS),
            *(t(f"warning_short.{level}") for level in LEVELS),
        ),
        # In points on A4: a unified social credit code (18 characters) fits on one line.
        (80, 90, 34, 30, 30, *(22,) * 4, *(32.5,) * 4),
        tuple(rows),
        groups=(("", 5), (t("group.major_hazards"), 4), (t("group.open_warnings"), 4)),
    )
    return Section(t("section.enterprises"), (Note(t("enterprises.order")), table, counts))


def _hazards(report: Mapping[str, Any], t: _Text) -> Section:
    def by_risk(h: Mapping[str, Any]) -> float:
        r = _number(h.get("r"))
        return math.inf if r is None else -r

    hazards = sorted(_list(report, "hazards"), key=by_risk)
    if not hazards:
        return Section(t("section.hazards"), (Note(t("empty")),))
    rows, term_rows = [], []
    for h in hazards:
        terms = [term for term in h.get("terms") or [] if isinstance(term, Mapping)]
        weighted = [w for w in (_number(term.get("weighted")) for term in terms) if w is not None]
        level = _level(h.get("level")) if h.get("major") else None
        rows.append(
            Row(
                (
                    Cell(str(h.get("unit") or DASH)),
                    Cell(str(h.get("title") or "")),
                    Cell(t.term("kind", h.get("kind"))),
                    Cell(t("yes") if h.get("major") else t("no")),
                    Cell(_num(h.get("sum_ratio"), 2), number=True),
                    Cell(_num(h.get("alpha"), 2), number=True),
                    Cell(_num(sum(weighted), 2) if weighted else DASH, number=True),
                    Cell(_num(h.get("r")), number=True),
                    Cell(t(f"hazard_level.{level}") if level else DASH, level),
                    t.warning(h.get("warning_level")),
                )
            )
        )
        for term in terms:
            name = term.get("name_zh") if t.language == "zh-CN" else term.get("name_en")
            term_rows.append(
                Row(
                    (
                        Cell(str(h.get("unit") or DASH)),
                        Cell(str(name or term.get("substance") or DASH)),
                        Cell(_quantity(term.get("quantity_t")), number=True),
                        Cell(_quantity(term.get("critical_t")), number=True),
                        Cell(_num(term.get("ratio"), 2), number=True),
                        Cell(_num(term.get("beta"), 2), number=True),
                        Cell(_num(term.get("weighted"), 2), number=True),
                    )
                )
            )
    blocks: list[Block] = [
        Table(
            (
                t("col.unit"),
                t("col.name"),
                t("col.kind"),
                t("col.major"),
                "Σ q/Q",
                "α",
                "Σ β·q/Q",
                "R",
                t("col.level"),
                t("col.warning"),
            ),
            (1.7, 2.8, 1.2, 1.0, 0.9, 0.7, 1.0, 0.9, 1.0, 1.1),
            tuple(rows),
        ),
        Note(t("hazards.formula")),
    ]
    if term_rows:
        blocks.append(
            Table(
                (
                    t("col.unit"),
                    t("col.substance"),
                    t("col.quantity"),
                    t("col.critical"),
                    "q/Q",
                    "β",
                    "β·q/Q",
                ),
                (1.7, 2.6, 1.3, 1.3, 0.9, 0.8, 0.9),
                tuple(term_rows),
                caption=t("hazards.terms"),
            )
        )
    return Section(t("section.hazards"), tuple(blocks))


def _incidents(report: Mapping[str, Any], t: _Text) -> Section:
    rows = []
    for i in _list(report, "incidents"):
        notes = []
        if i.get("cause"):
            notes.append(t("incident.cause", text=_plain(i["cause"])))
        if i.get("evidence"):
            notes.append(t("incident.evidence", text=_plain(i["evidence"])))
        rows.append(
            Row(
                (
                    Cell(str(i.get("number") or DASH)),
                    Cell(str(i.get("unit") or DASH)),
                    Cell(str(i.get("title") or "")),
                    t.warning(i.get("peak_level")),
                    Cell(_when(i.get("opened_at"))),
                    Cell(_when(i.get("closed_at")) if i.get("closed_at") else DASH),
                    Cell(t.duration(i.get("duration_s")), number=True),
                    Cell(t.term("status", i.get("status"))),
                    Cell(str(i.get("failure_mode") or DASH)),
                ),
                tuple(notes),
            )
        )
    if not rows:
        return Section(t("section.incidents"), (Note(t("empty")),))
    return Section(
        t("section.incidents"),
        (
            Table(
                (
                    t("col.number"),
                    t("col.unit"),
                    t("col.event"),
                    t("col.peak"),
                    t("col.opened"),
                    t("col.closed"),
                    t("col.duration"),
                    t("col.status"),
                    t("col.failure_mode"),
                ),
                (1.45, 1.25, 2.0, 0.85, 1.3, 1.3, 1.05, 0.85, 1.95),
                tuple(rows),
            ),
        ),
    )


def _failures(report: Mapping[str, Any], t: _Text) -> Section:
    failures = sorted(_list(report, "failures"), key=lambda f: -int(f.get("count") or 0))
    if not failures:
        return Section(t("section.failures"), (Note(t("empty")),))
    rows = tuple(
        Row(
            (
                Cell(str(f.get("mode") or DASH)),
                Cell(str(f.get("title") or "")),
                Cell(str(int(f.get("count") or 0)), number=True),
            )
        )
        for f in failures
    )
    return Section(
        t("section.failures"),
        (Table((t("col.code"), t("col.failure_mode"), t("col.count")), (2.0, 5.0, 1.0), rows),),
    )


def _monitoring(report: Mapping[str, Any], t: _Text) -> Section:
    monitoring = report.get("monitoring") or {}
    points, online = int(monitoring.get("points") or 0), int(monitoring.get("online") or 0)
    return Section(
        t("section.monitoring"),
        (
            Tiles(
                (
                    Tile(t("monitoring.points"), str(points)),
                    Tile(t("monitoring.online"), str(online)),
                    Tile(t("monitoring.rate"), _online_rate(monitoring)),
                    Tile(t("monitoring.alarms"), str(int(monitoring.get("alarms") or 0))),
                )
            ),
        ),
    )


def build_document(report: Mapping[str, Any], language: str = "en") -> Document:
    """The report's content in ``language``; any Chinese variant gives zh-CN, anything else English."""
    t = _Text(normalise_language(language))
    sections = (
        Section("", (_subject(report, t),)),
        _summary(report, t),
        _index(report, t),
        _monitoring(report, t),
        _trend(report, t),
        _warnings(report, t),
        *((_enterprises(report, t),) if report.get("scope") == "region" else ()),
        _hazards(report, t),
        _incidents(report, t),
        _failures(report, t),
    )
    subject = report.get("subject") or {}
    title = str(report.get("title") or subject.get("name") or t("untitled"))
    return Document(t.language, title, _header(report, t), _when(report.get("generated_at")), tuple(sections))
