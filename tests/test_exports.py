"""CSV exports: formula-looking cells are neutralised, files carry a UTF-8 byte-order mark."""
from __future__ import annotations

import csv
import io

from api.rebates.views import LINES, statement_csv
from dealerflow.shared.exports import csv_cell, write_csv


def test_cells_that_start_like_a_formula_are_written_as_text():
    for evil in ("=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(evil) == "'" + evil
    assert [csv_cell(v) for v in ("-120.00", "+5", "120.00", 7, None, "Oak door")] == \
        ["-120.00", "+5", "120.00", "7", "", "Oak door"]
    assert write_csv([["a", "=1+1"]]) == "\ufeffa,'=1+1\r\n"


def test_the_statement_csv_neutralises_dealer_text_and_starts_with_a_bom():
    read = {"id": "s1", "dealer_code": "D1", "dealer_name": "=cmd|' /C calc'!A0", "run_id": "r:1", "revision": 1,
            "status": "issued", "span_from": "2026-07-01", "span_to": "2026-09-30", "points": 0,
            "explanation": {"reason": "@SUM(1+1)*cmd|' /C calc'!A0"}, **{key: "-12.50" for key, _ in LINES}}
    text = statement_csv(read)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[1] == ["dealer", "D1", "'=cmd|' /C calc'!A0"]
    assert rows[-1] == ["rebate explanation", "'@SUM(1+1)*cmd|' /C calc'!A0"]
    assert ["Closing balance", "-12.50"] in rows


def test_a_workbook_shows_control_characters_it_cannot_hold_as_replacement_marks():
    from openpyxl import load_workbook

    from dealerflow.shared.exports import table_xlsx

    data = table_xlsx(["name"], [{"name": "Anju\x17 Doors\x00"}], title="dealers")
    assert load_workbook(io.BytesIO(data)).active["A2"].value == "Anju\ufffd Doors\ufffd"
