"""Safety-production reports as HTML and PDF: a month of one enterprise and of a region, read back with
the standard HTML parser and with pypdf."""

from __future__ import annotations

import io
import re
from collections import Counter
from html.parser import HTMLParser
from typing import Any

import pytest
from pypdf import PdfReader

from indunet.apps.safety.report_document import LEVEL_COLOURS, Box, stacked_bar_chart
from indunet.apps.safety.report_html import render_html
from indunet.apps.safety.report_pdf import render_pdf

EVIL_TITLE = 'Jinshan Chemical <script>alert("x")</script> & Co. safety report'


def _day(d: int) -> str:
    return f"2026-11-{d:02d}"


def _warnings_on(d: int) -> dict[str, Any]:
    return {
        "date": _day(d),
        "1": 1 if d == 7 else 0,
        "2": 1 if d in (15, 16) else 0,
        "3": (1 + (d % 3 == 0)) if d % 4 == 0 else 0,
        "4": (d * 7) % 5,
    }


def _term(code: str, zh: str, en: str, q: float, critical: float, beta: float) -> dict[str, Any]:
    ratio = q / critical
    return {
        "substance": code,
        "name_zh": zh,
        "name_en": en,
        "quantity_t": q,
        "critical_t": critical,
        "ratio": round(ratio, 4),
        "beta": beta,
        "weighted": round(beta * ratio, 4),
    }


def month_report(scope: str = "enterprise", title: str = EVIL_TITLE) -> dict[str, Any]:
    days = range(1, 31)
    by_day = [_warnings_on(d) for d in days]
    tank = [
        _term("lpg", "液化石油气", "LPG", 550, 50, 1.5),
        _term("ammonia", "液氨", "Anhydrous ammonia", 60, 10, 2.0),
    ]
    reactor = [_term("chlorine", "氯", "Chlorine", 8, 5, 4.0)]
    store = [_term("methanol", "甲醇", "Methanol", 120, 500, 1.0)]
    return {
        "scope": scope,
        "title": title,
        "period": {
            "kind": "monthly",
            "start": "2026-11-01T00:00:00+08:00",
            "end": "2026-12-01T00:00:00+08:00",
        },
        "generated_at": "2026-12-01T06:00:00+08:00",
        "subject": {
            "name": "Jinshan Chemical",
            "code": "91310116MA1XXXXX",
            "region": "310116",
            "region_name": "金山区",
        }
        if scope == "enterprise"
        else {"name": "Jinshan District", "code": "310116", "region": "310116", "region_name": "金山区"},
        "index": {
            "value": 82.4,
            "grade": "B",
            "components": [
                {"key": "hazards", "score": 70.0, "weight": 0.3, "detail": {"major": 2, "max_level": 2}},
                {"key": "warnings", "score": 85.0, "weight": 0.25, "detail": {"red": 1, "orange": 2}},
                {"key": "disposal", "score": 90.0, "weight": 0.2, "detail": {"closed_in_time": 0.9}},
                {"key": "monitoring", "score": 95.2, "weight": 0.15, "detail": {"online": 40, "points": 42}},
                {"key": "failures", "score": 80.0, "weight": 0.1, "detail": {}},
            ],
        },
        "index_history": [
            {"date": _day(d), "value": round(78 + (d % 7) * 1.1 - 3 * (d in (7, 15)), 1)} for d in days
        ],
        "warnings_by_day": by_day,
        "warnings_by_level": {str(lv): sum(d[str(lv)] for d in by_day) for lv in (1, 2, 3, 4)},
        "hazards": [
            {
                "unit": "reactor-1",
                "title": "Chlorination reactor",
                "kind": "production",
                "major": True,
                "r": 9.6,
                "level": 4,
                "sum_ratio": 1.6,
                "alpha": 1.5,
                "terms": reactor,
                "warning_level": None,
            },
            {
                "unit": "tank-area-B",
                "title": "LPG and ammonia tank area",
                "kind": "storage",
                "major": True,
                "r": 57.0,
                "level": 2,
                "sum_ratio": 17.0,
                "alpha": 2.0,
                "terms": tank,
                "warning_level": 3,
            },
            {
                "unit": "warehouse-3",
                "title": "Solvent warehouse",
                "kind": "storage",
                "major": False,
                "r": 0.24,
                "level": None,
                "sum_ratio": 0.24,
                "alpha": 1.0,
                "terms": store,
                "warning_level": None,
            },
        ],
        "incidents": [
            {
                "number": "INC-2026-0003",
                "unit": "tank-area-B",
                "title": "Ammonia above the second alarm",
                "peak_level": 1,
                "opened_at": "2026-11-07T14:20:00+08:00",
                "closed_at": "2026-11-07T14:50:00+08:00",
                "status": "closed",
                "duration_s": 1800,
                "failure_mode": "FM-LEAK-FLANGE",
                "cause": "Aged flange gasket on the ammonia outlet line",
                "evidence": "GDS-12 peaked at 96 ppm",
            },
            {
                "number": "INC-2026-0004",
                "unit": "reactor-1",
                "title": "Reactor temperature above the high limit",
                "peak_level": 2,
                "opened_at": "2026-11-15T09:02:00+08:00",
                "closed_at": "2026-11-15T13:14:00+08:00",
                "status": "closed",
                "duration_s": 15120,
                "failure_mode": "FM-COOLING-LOSS",
                "cause": "Cooling water pump P-104 tripped",
                "evidence": "TI-301 at 142 °C",
            },
            {
                "number": "INC-2026-0005",
                "unit": "tank-area-B",
                "title": "LPG tank level high",
                "peak_level": 3,
                "opened_at": "2026-11-30T21:40:00+08:00",
                "closed_at": None,
                "status": "open",
                "duration_s": None,
                "failure_mode": None,
                "cause": "",
                "evidence": "",
            },
        ],
        "failures": [
            {"mode": "FM-LEAK-FLANGE", "title": "Flange gasket leak", "count": 2},
            {"mode": "FM-COOLING-LOSS", "title": "Loss of cooling", "count": 1},
            {"mode": "FM-SENSOR-DRIFT", "title": "Gas detector drift", "count": 3},
        ],
        "monitoring": {"points": 42, "online": 40, "alarms": 17},
        "enterprises": [
            {
                "name": "Jinshan Chemical",
                "code": "91310116MA1XXXXX",
                "region": "310116",
                "index": 82.4,
                "grade": "B",
                "major_hazards": {"1": 0, "2": 1, "3": 0, "4": 1},
                "open_warnings": {"1": 0, "2": 0, "3": 1, "4": 0},
            },
            {
                "name": "Caojing Gas Storage",
                "code": "91310116MA1YYYYY",
                "region": "310116",
                "index": 67.5,
                "grade": "C",
                "major_hazards": {"1": 1, "2": 0, "3": 2, "4": 0},
                "open_warnings": {"1": 1, "2": 0, "3": 0, "4": 2},
            },
            {
                "name": "Shanyang Coatings",
                "code": "91310116MA1ZZZZZ",
                "region": "310116",
                "index": 91.2,
                "grade": "A",
                "major_hazards": {"1": 0, "2": 0, "3": 0, "4": 1},
                "open_warnings": {"1": 0, "2": 0, "3": 0, "4": 0},
            },
            {
                "name": "Newly Registered Ltd",
                "code": "91310116MA1WWWWW",
                "region": "310116",
                "index": None,
                "grade": None,
                "major_hazards": {},
                "open_warnings": {},
            },
        ]
        if scope == "region"
        else [],
    }


def empty_report() -> dict[str, Any]:
    report = month_report()
    for key in ("index_history", "warnings_by_day", "hazards", "incidents", "failures", "enterprises"):
        report[key] = []
    report["index"] = {"value": 100.0, "grade": "A", "components": []}
    report["warnings_by_level"] = {}
    report["monitoring"] = {"points": 0, "online": 0, "alarms": 0}
    return report


class StrictParser(HTMLParser):
    """Fails on an end tag that does not close the innermost open element; counts tags, keeps text."""

    VOID = frozenset({"meta", "link", "col", "br", "hr", "img", "input", "wbr", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: Counter[str] = Counter()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(html)
    parser.close()
    assert parser.open == []
    return parser


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


# ---- HTML ----


def test_html_is_well_formed_and_escapes_what_users_typed() -> None:
    html = render_html(month_report())
    parsed = parse(html)
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert parsed.tags["script"] == 0
    assert EVIL_TITLE in "".join(parsed.text)
    assert parsed.tags["h1"] == 1
    assert parsed.tags["svg"] == 2  # the index trend and the warnings per day


def test_html_charts_use_the_four_level_colours() -> None:
    html = render_html(month_report())
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    bars = svgs[1]
    for colour in LEVEL_COLOURS.values():
        assert f'fill="{colour}"' in bars
    # The trend has one point per day.
    assert svgs[0].count("<circle") == 30


def test_html_shows_the_r_calculation_of_each_unit() -> None:
    text = "".join(parse(render_html(month_report())).text)
    # tank-area-B: α 2.0, Σ β·q/Q = 16.5 + 12.0, R = 57.0; listed before reactor-1 (R 9.6).
    assert "28.50" in text and "57.0" in text and "2.00" in text
    assert text.index("tank-area-B") < text.index("reactor-1")
    assert "Level II" in text


def test_html_in_chinese() -> None:
    html = render_html(month_report(), language="zh-CN")
    text = "".join(parse(html).text)
    assert '<html lang="zh-CN">' in html
    for label in (
        "安全指数",
        "重大危险源",
        "红色预警",
        "橙色预警",
        "黄色预警",
        "蓝色预警",
        "二级",
        "液化石油气",
        "统计期间",
        "预警事件及处置情况",
    ):
        assert label in text, label
    assert "Safety index trend" not in text


def test_region_html_lists_enterprises_worst_first() -> None:
    text = "".join(parse(render_html(month_report("region", "Jinshan District, November"))).text)
    positions = [
        text.index(name)
        for name in ("Caojing Gas Storage", "Jinshan Chemical", "Shanyang Coatings", "Newly Registered Ltd")
    ]
    assert positions == sorted(positions)
    assert "Administrative division code" in text


# ---- PDF ----


@pytest.fixture(scope="module")
def month_pdf() -> bytes:
    return render_pdf(month_report())


def test_pdf_has_the_summary_on_page_one_and_numbered_pages(month_pdf: bytes) -> None:
    assert month_pdf.startswith(b"%PDF")
    pages = pdf_pages(month_pdf)
    assert len(pages) >= 2
    assert "Jinshan Chemical" in pages[0]
    assert "82.4" in pages[0]
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert "Generated 2026-12-01 06:00" in text


def test_pdf_escapes_markup_and_keeps_the_title(month_pdf: bytes) -> None:
    first = " ".join(pdf_pages(month_pdf)[0].split())
    assert '<script>alert("x")</script> & Co.' in first


def test_pdf_in_chinese_is_extractable() -> None:
    data = render_pdf(month_report(), language="zh-CN")
    assert b"/BaseFont /STSong-Light" in data
    pages = [re.sub(r"\s+", "", text) for text in pdf_pages(data)]
    everything = "".join(pages)
    for label in ("安全指数", "重大危险源", "红色预警", "液化石油气", "金山区"):
        assert label in everything, label
    for number, text in enumerate(pages, start=1):
        assert f"第{number}页，共{len(pages)}页" in text


def test_english_pdf_sets_chinese_names_in_the_cid_font(month_pdf: bytes) -> None:
    # The subject's region name is Chinese even in an English report; Helvetica has no glyphs for it.
    assert "金山区" in pdf_pages(month_pdf)[0]


def test_region_pdf_lists_enterprises_worst_first() -> None:
    text = "".join(pdf_pages(render_pdf(month_report("region", "Jinshan District, November"))))
    positions = [
        text.index(name)
        for name in ("Caojing Gas Storage", "Jinshan Chemical", "Shanyang Coatings", "Newly Registered Ltd")
    ]
    assert positions == sorted(positions)


# ---- empty input ----


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_empty_lists_render(language: str) -> None:
    report = empty_report()
    html = render_html(report, language)
    parse(html)
    assert html.count("<svg") == 2
    data = render_pdf(report, language)
    assert len(PdfReader(io.BytesIO(data)).pages) >= 1


def test_a_bare_dict_renders() -> None:
    parse(render_html({}))
    assert render_pdf({"scope": "region"}).startswith(b"%PDF")


# ---- chart geometry ----


def test_stacked_bars_are_proportional_with_red_at_the_base() -> None:
    chart = stacked_bar_chart(
        "",
        [("2026-11-01", {1: 1, 2: 0, 3: 2, 4: 5}), ("2026-11-02", {1: 0, 2: 0, 3: 0, 4: 2})],
        {1: "r", 2: "o", 3: "y", 4: "b"},
        "none",
    )
    bars = [s for s in chart.shapes if isinstance(s, Box) and s.w > 8]
    first = [b for b in bars if b.x < chart.width / 2]
    assert [b.colour for b in first] == [LEVEL_COLOURS[1], LEVEL_COLOURS[3], LEVEL_COLOURS[4]]
    assert first[0].y + first[0].h == pytest.approx(max(b.y + b.h for b in first))  # red sits on the axis
    heights = [b.h for b in first]
    assert heights[1] == pytest.approx(2 * heights[0]) and heights[2] == pytest.approx(5 * heights[0])
    second = [b for b in bars if b.x > chart.width / 2]
    assert second[0].h == pytest.approx(2 * heights[0])


def test_a_chinese_locale_name_picks_the_chinese_catalog() -> None:
    html = render_html(empty_report(), language="zh_CN.UTF-8")
    assert '<html lang="zh-CN">' in html and "安全指数" in html
