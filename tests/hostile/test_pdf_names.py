"""Tenant and model names in any script, as the invoice PDF prints them (meterhouse.pdf).

What a reader copies out of the PDF, here pypdf's extracted text, must be the name exactly:
Latin with diacritics, Greek, Cyrillic, Chinese, Japanese, Arabic and Devanagari (the last
two shaped, Arabic right to left). Names that differ must never print the same: control and
invisible characters show as their code points, a long name wraps instead of being cut, and
nothing a name holds may crash the renderer (docs/decisions/0011-unicode-pdf-fonts.md).
"""

# ruff: noqa: RUF001  (letters that look like Latin ones are what these names are about)

from __future__ import annotations

import io
import json
from importlib import resources
from typing import Any

import pypdf
import pytest

from meterhouse import pdf as pdf_module
from meterhouse.errors import MeterhouseError
from meterhouse.pdf import render_pdf

NAMES = {
    "latin-extended": "Łódź Ørsted Ærø",
    "greek": "Αθηναϊκή Εταιρεία Λογισμικού",
    "cyrillic": "ООО «Ромашка» Москва",
    "chinese": "北京字节跳动科技有限公司",
    "japanese": "株式会社カタカナとひらがな",
    "arabic": "شركة القاهرة للتقنية",
    "devanagari": "नई दिल्ली प्राइवेट लिमिटेड",
    "hebrew": 'חברה בע"מ',
    "persian (zero-width non-joiner)": "شرکت\u200cهای فناوری",
    "thai": "บริษัท ไทย จำกัด",
    "korean": "삼성전자 주식회사",
    "latin with combining accents": "Cafe\u0301 Ame\u0301lie",
}


def document(tenant: str, models: tuple[str, ...] = ("gpt-4o",)) -> dict[str, Any]:
    """An invoice document (docs/invoice-schema.md) with one usage line per model."""
    lines = [
        {"line_number": n, "line_type": "usage", "model_id": model, "token_class": "input",
         "quantity_tokens": 1_000_000, "corrects_invoice_id": None,
         "corrected_line_type": None, "unit_price_per_1m_tokens": "2.500000000000",
         "amount": "2.50"}
        for n, model in enumerate(models, start=1)
    ]  # fmt: skip
    total = f"{2.5 * len(models):.2f}"
    return {
        "invoice_id": f"INV-202609-{tenant}", "issuer": "Example AI Ltd", "tenant_id": tenant,
        "period_start": "2026-09-01", "period_end": "2026-09-30", "currency": "EUR",
        "status": "draft", "issued_at": None, "lines": lines, "subtotal": total,
        "discounts": "0.00", "credits_applied": "0.00", "commitment_shortfall": "0.00",
        "corrections": "0.00", "total": total,
    }  # fmt: skip


def text_lines(content: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return [line for page in reader.pages for line in page.extract_text().split("\n")]


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_a_name_in_any_script_is_extracted_exactly(name: str) -> None:
    lines = text_lines(render_pdf(document(name, models=(name, "gpt-4o"))))
    assert f"Bill to {name}" in lines  # the tenant
    assert f"Invoice number INV-202609-{name}" in lines
    assert name in lines  # the model's row holds its name alone
    assert "Total due 5.00 EUR" in lines


def test_names_that_differ_only_in_unprintable_characters_print_differently() -> None:
    names = [
        "ab", "a\x07b", "a\x00b", "a\nb", "a\x1b[31mb", "a\x7fb", "a\x85b",
        "a\u200bb",  # zero-width space
        "a\u202eb",  # right-to-left override: obeyed, "a\u202ebc" would print as "acb"
        "a\u00adb",  # soft hyphen
        "a\ue000b",  # private use
        "a\U000e0fffb",  # unassigned
        json.loads('"a\\ud800b"'),  # a lone surrogate, as JSON can hold
    ]  # fmt: skip
    printed = []
    for name in names:
        bill_to = [line for line in text_lines(render_pdf(document(name))) if "Bill to" in line]
        printed.append(bill_to[0])
    assert len(set(printed)) == len(names), printed
    assert printed[1] == "Bill to a<U+0007>b"
    assert printed[8] == "Bill to a<U+202E>b"


@pytest.mark.parametrize(
    "name",
    ["x" * 300, "Ł" + "abcdefghij" * 30, " ".join(f"word{i:02d}" for i in range(60)),
     " ".join(["شركة القاهرة"] * 25), " ".join(["नई दिल्ली"] * 30)],
    ids=["one-word", "latin-extended", "words", "arabic", "devanagari"],
)  # fmt: skip
def test_a_long_name_wraps_over_lines_and_is_never_cut(name: str) -> None:
    lines = text_lines(render_pdf(document(name, models=(name,))))
    bill_to = next(i for i, line in enumerate(lines) if line.startswith("Bill to "))
    assert lines[bill_to] != f"Bill to {name}"  # wrapped
    joined = "".join("".join(lines).split())
    squeezed = "".join(name.split())
    assert joined.count(squeezed) >= 3  # tenant, invoice number and model row, whole


def test_two_long_names_that_differ_at_the_end_print_differently() -> None:
    first, second = ("y" * 299 + "1", "y" * 299 + "2")
    texts = ["".join(text_lines(render_pdf(document(name)))) for name in (first, second)]
    assert texts[0] != texts[1]
    assert first in texts[0]
    assert second in texts[1]


def test_a_name_that_looks_like_the_page_count_placeholder_is_printed_as_it_is() -> None:
    lines = text_lines(render_pdf(document("{nb}", models=("{nb}",))))
    assert "Bill to {nb}" in lines
    assert "Page 1 of 1" in lines


def test_every_control_character_renders() -> None:
    name = "".join(map(chr, range(32))) + "\x7f" + "".join(map(chr, range(0x80, 0xA0)))
    text = "".join(text_lines(render_pdf(document(name, models=(name,)))))
    assert "<U+0000>" in text
    assert "<U+009F>" in text


def test_only_the_fonts_a_document_needs_are_embedded_and_they_are_subsets() -> None:
    def fonts(content: bytes) -> list[str]:
        page = pypdf.PdfReader(io.BytesIO(content)).pages[0]
        return sorted(
            str(f.get_object()["/BaseFont"]) for f in page["/Resources"]["/Font"].values()
        )

    ascii_pdf = render_pdf(document("acme"))
    assert len(fonts(ascii_pdf)) == 1
    assert len(ascii_pdf) < 30_000
    cjk_pdf = render_pdf(document(NAMES["chinese"]))
    assert len(fonts(cjk_pdf)) == 2
    assert len(cjk_pdf) < 40_000  # a CJK font is megabytes; its subset is not
    arabic_pdf = render_pdf(document(NAMES["arabic"]))
    assert len(arabic_pdf) < 60_000


@pytest.fixture
def without_the_font_package(monkeypatch: pytest.MonkeyPatch) -> Any:
    real = resources.files

    def files(package: str) -> Any:
        if package == "manimgx_fonts":
            raise ModuleNotFoundError(package)
        return real(package)

    pdf_module._library.cache_clear()
    monkeypatch.setattr(pdf_module.resources, "files", files)
    yield
    monkeypatch.undo()
    pdf_module._library.cache_clear()


@pytest.mark.usefixtures("without_the_font_package")
def test_missing_fonts_are_a_clear_error() -> None:
    with pytest.raises(MeterhouseError, match="font package manimgx-fonts"):
        render_pdf(document("acme"))
