"""Invoice PDFs that print any tenant or model name, and print it exactly.

fpdf2's built-in fonts are Latin-1 only: a name outside it came out as `?`, so two tenants
could get the same-looking invoice. This module embeds subsets of Noto and WenQuanYi fonts
from PyPI packages, picks a font per character, draws the scripts that need shaping (right to
left, Indic, combining marks) as HarfBuzz's glyph outlines over invisible exact text, and
prints what no font can show as its code point, so that the text a reader copies or extracts
is the name. It is its own module because fonts, shaping and their per-process caches are a
concern of their own, and `meterhouse invoice` renders one PDF per tenant: fonts are read
once per process, and a document embeds only the characters its text needs
(docs/decisions/0011-unicode-pdf-fonts.md).
"""

from __future__ import annotations

import atexit
import functools
import io
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, cast

import uharfbuzz as hb  # type: ignore[import-untyped]
from fontTools.fontBuilder import FontBuilder  # type: ignore[import-untyped]
from fontTools.pens.ttGlyphPen import TTGlyphPen  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.bidi import BidiParagraph, auto_detect_base_direction
from fpdf.drawing import BoundingBox, GraphicsContext, Renderable
from fpdf.drawing_primitives import Point
from fpdf.enums import MethodReturnValue, TextMode
from fpdf.fonts import TTFFont

from meterhouse.core.vocabulary import LINE_TYPES, TOKEN_CLASSES
from meterhouse.errors import MeterhouseError

_CLASS_NAMES = {c.name: c.label for c in TOKEN_CLASSES}
_LINE_NAMES = {t.name: t.label for t in LINE_TYPES}
_WIDTHS = (70.0, 35.0, 40.0, 35.0)  # description, tokens, unit price per 1M, amount (mm)
_LINE = 6.0  # height of a line of the header and of the table (mm)
_LABEL = 35.0  # width of the header's labels (mm)

# Fallback order: the first font with a glyph for a character draws it. Noto Sans (Latin,
# Greek, Cyrillic) first, CJK last since it also has Latin, Greek and Cyrillic glyphs.
_NOTO = (
    "NotoSans", "NotoSansArabic", "NotoSansHebrew", "NotoSansDevanagari", "NotoSansBengali",
    "NotoSansGurmukhi", "NotoSansGujarati", "NotoSansOriya", "NotoSansTamil", "NotoSansTelugu",
    "NotoSansKannada", "NotoSansMalayalam", "NotoSansSinhala", "NotoSansThai", "NotoSansLao",
    "NotoSansMyanmar", "NotoSansKhmer", "NotoSansArmenian", "NotoSansGeorgian",
    "NotoSansEthiopic", "NotoSansSymbols", "NotoEmoji",
)  # fmt: skip
# The characters of nearly every invoice, in a small subset of Noto Sans: embedding a font
# costs time in proportion to its glyphs, so most PDFs embed only this one.
_BASE_RANGES = ((0x20, 0x7E), (0xA0, 0x17F), (0x2010, 0x2027), (0x2030, 0x203A), (0x20AC, 0x20AC))
# Tables that fpdf2 does not use when it sets text without shaping: dropping them from the
# embedded copies makes fpdf2's per-PDF subsetting several times faster.
_UNUSED_TABLES = ("GSUB", "GPOS", "GDEF", "JSTF", "BASE", "STAT", "DSIG")
_BOLD_STROKE = 0.025  # em: bold is the regular outline, filled and stroked that wide (0011)
_RTL_CLASSES = ("R", "AL", "AN")  # bidi classes of right-to-left letters and Arabic digits
_SHAPED = ("Mn", "Mc", "Me", "Cf")  # marks, and the joiners (the only format characters kept)
_JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner: they change how a name looks
_TEXT_FONT = "Text"  # the family of the invisible text under shaped outlines
_ASCII = set(range(0x20, 0x7F))
# The page count's placeholder, which fpdf2 replaces in all text: private-use characters,
# which _clean never lets through, so that a tenant named "{nb}" is not printed as "1".
_PAGES = "\ue000nb\ue000"


@dataclass(frozen=True)
class _Font:
    name: str  # the family fpdf2 knows it by
    path: Path
    index: int  # the face within a collection file (.ttc)
    codepoints: frozenset[int]


def font_files() -> list[tuple[str, Path, int]]:
    """The font files, from the PyPI packages manimgx-fonts (Noto) and paperang-p2-fonts-cjk
    (WenQuanYi Micro Hei, a TrueType CJK font): (name, path, face in the file)."""
    folders = {}
    for package in ("manimgx_fonts", "paperang_p2_fonts_cjk"):
        try:
            folders[package] = Path(str(resources.files(package)))
        except ModuleNotFoundError as error:
            raise MeterhouseError(
                f"PDF invoices need the font package {package.replace('_', '-')}; install "
                "meterhouse with its dependencies: pip install -c constraints.txt -e ."
            ) from error
    files = [(name, folders["manimgx_fonts"] / f"{name}[wght].ttf", 0) for name in _NOTO]
    cjk = folders["paperang_p2_fonts_cjk"] / "fonts" / "wqy-microhei.ttc"
    files.append(("WenQuanYiMicroHei", cjk, 0))
    missing = [str(path) for _, path, _ in files if not path.is_file()]
    if missing:
        raise MeterhouseError(
            f"font files missing: {', '.join(missing)}; reinstall the font packages: pip "
            "install --force-reinstall -c constraints.txt manimgx-fonts paperang-p2-fonts-cjk"
        )
    return files


class _Library:
    """The fonts, read once per process (HarfBuzz faces: which characters each has, shaping,
    outlines, subsets), and the files fpdf2 embeds, in a folder of this process: the base
    font once, and per document a subset of each other font it needs, with only the
    characters it draws, which costs fpdf2 a fraction of the whole font's time."""

    def __init__(self) -> None:
        self._faces: dict[str, Any] = {}
        self._shapers: dict[str, tuple[Any, int]] = {}
        fonts = []
        for name, path, index in font_files():
            face = hb.Face(hb.Blob.from_file_path(path), index)
            fonts.append(_Font(name, path, index, frozenset(face.unicodes)))
            self._faces[name] = face
            self._shapers[name] = (hb.Font(face), face.upem)
        self.fonts = tuple(fonts)
        base = {c for low, high in _BASE_RANGES for c in range(low, high + 1)}
        self.base = _Font("Base", fonts[0].path, 0, frozenset(base & fonts[0].codepoints))
        self._faces[self.base.name] = self._faces[fonts[0].name]
        self.covered = frozenset().union(*(font.codepoints for font in fonts))
        self._folder: Path | None = None
        self._base_file: Path | None = None
        self._outlines: dict[tuple[str, int], str] = {}

    def _write(self, name: str, content: bytes) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="meterhouse-fonts-"))
            atexit.register(shutil.rmtree, self._folder, ignore_errors=True)
        handle, target = tempfile.mkstemp(prefix=f"{name}-", suffix=".ttf", dir=self._folder)
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        return Path(target)

    def base_file(self) -> Path:
        if self._base_file is None:
            self._base_file = self._write(self.base.name, self._subset(self.base, set()))
        return self._base_file

    def subset_file(self, font: _Font, chars: set[int]) -> Path:
        """A file with the glyphs of `font` for `chars` only, for one document: the caller
        removes it once the PDF is output (fpdf2 reads it until then)."""
        return self._write(font.name, self._subset(font, chars))

    def _subset(self, font: _Font, chars: set[int]) -> bytes:
        """HarfBuzz's subset of `font` for `chars`, space and, for the base font, all of its
        characters: one face, the default instance of a variable font, no layout tables (fpdf2
        sets unshaped text glyph by glyph)."""
        face = self._faces[font.name]
        plan = hb.SubsetInput()
        plan.sets(hb.SubsetInputSets.UNICODE).update(
            {0x20, *chars, *(font.codepoints if font is self.base else ())}
        )
        dropped = plan.sets(hb.SubsetInputSets.DROP_TABLE_TAG)
        for tag in _UNUSED_TABLES:
            dropped.add(int.from_bytes(tag.encode(), "big"))
        plan.flags = (
            hb.SubsetFlags.NO_LAYOUT_CLOSURE
            | hb.SubsetFlags.NOTDEF_OUTLINE
            | hb.SubsetFlags.NO_HINTING
        )
        plan.pin_all_axes_to_default(face)
        return cast(bytes, hb.subset(face, plan).blob.data)

    def text_font(self, chars: set[int]) -> Path:
        """A font of blank glyphs for `chars`, for the invisible text under shaped outlines:
        one font for every character, so that each run is one text operator. A new file for
        each document (the caller removes it): fpdf2 reads it until the PDF is output."""
        builder = FontBuilder(1000, isTTF=True)
        builder.setupGlyphOrder([".notdef", "blank"])
        builder.setupCharacterMap(dict.fromkeys(sorted(chars), "blank"))
        builder.setupGlyf({name: TTGlyphPen(None).glyph() for name in (".notdef", "blank")})
        # Two ems wide, so that stretched to the outlines a run is narrower than its glyphs
        # say: a run wider than they say looks like a gap to an extractor, and gets a space.
        builder.setupHorizontalMetrics({".notdef": (2000, 0), "blank": (2000, 0)})
        builder.setupHorizontalHeader(ascent=800, descent=-200)
        builder.setupNameTable({"familyName": _TEXT_FONT, "styleName": "Regular"})
        builder.setupOS2(sTypoAscender=800, usWinAscent=800, usWinDescent=200)
        builder.setupPost()
        content = io.BytesIO()
        builder.save(content)
        return self._write(_TEXT_FONT, content.getvalue())

    def outline(self, font: _Font, glyph: int) -> str:
        """Glyph `glyph` of `font` as path operators in thousandths of an em ("" for a
        glyph without an outline, such as a space)."""
        key = (font.name, glyph)
        if key not in self._outlines:
            pen = _Pen(1000 / self.upem(font))
            self._shapers[font.name][0].draw_glyph_with_pen(glyph, pen)
            self._outlines[key] = " ".join(pen.operators)
        return self._outlines[key]

    def upem(self, font: _Font) -> int:
        """The units per em of `font`'s outlines and of its shaped positions."""
        return self._shapers[font.name][1]

    def shape(self, font: _Font, text: str, rtl: bool) -> tuple[list[Any], list[Any]]:
        """HarfBuzz's glyphs and positions for `text` in `font`, left to right."""
        buffer = hb.Buffer()
        buffer.add_str(text)
        buffer.guess_segment_properties()
        buffer.direction = "rtl" if rtl else "ltr"
        hb.shape(self._shapers[font.name][0], buffer, {})
        return list(buffer.glyph_infos), list(buffer.glyph_positions)

    def font_for(self, char: str, current: _Font | None) -> _Font:
        """The font that draws `char`: the current one for a mark, space, digit or punctuation
        it has (a run stays in one font), else the first that has it."""
        code = ord(char)
        if current and code in current.codepoints and unicodedata.category(char)[0] in "MZNPSC":
            return current
        return next((font for font in self.fonts if code in font.codepoints), self.fonts[0])


@functools.cache
def _library() -> _Library:
    return _Library()


def _clean(value: object) -> str:
    """The text to print for `value`: a control, surrogate, private-use or unassigned
    character, an invisible format character (bidi overrides, zero-width space, soft
    hyphen; not the joiners) or one that no font draws is printed as its code point
    (<U+202E>), never dropped or obeyed, so names that differ never print the same."""
    text = str(value)
    if text.isascii() and text.isprintable():
        return text
    covered = _library().covered
    return "".join(c if _printable(c, covered) else f"<U+{ord(c):04X}>" for c in text)


def _printable(char: str, covered: frozenset[int]) -> bool:
    category = unicodedata.category(char)
    if category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and char not in _JOINERS):
        return False
    return ord(char) in covered


def _needs_shaping(text: str) -> bool:
    """Right-to-left text, combining marks (Indic vowel signs, viramas, accents) and joiners
    need HarfBuzz to look right; everything else fpdf2 sets glyph by glyph."""
    return not text.isascii() and any(
        unicodedata.bidirectional(c) in _RTL_CLASSES or unicodedata.category(c) in _SHAPED
        for c in text
    )


class _Invoice(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_library().base.name, "", 8)
        self.cell(0, 6, f"Page {self.page_no()} of {_PAGES}", align="R")


def money(amount: str, currency: str) -> str:
    return f"{Decimal(amount):,.2f} {currency}"


def _add_fonts(pdf: FPDF, texts: list[str], made: list[Path]) -> None:
    """Embed the base font; for the characters of unshaped `texts` it lacks, a subset of each
    font that is the first to have some (as fallbacks); and if any text is shaped, a text font
    for all of them. The files made for this document go into `made`, for the caller to
    remove (even if this fails half-way)."""
    library = _library()
    if any(_needs_shaping(text) for text in texts):
        made.append(library.text_font({ord(c) for text in texts for c in text} | _ASCII))
        pdf.add_font(_TEXT_FONT, "", made[-1])
    # fpdf2 sets only text that is not shaped (shaped text is outlines over the text font)
    plain = [text for text in texts if not _needs_shaping(text)]
    needed = {ord(c) for text in plain for c in text} - library.base.codepoints
    # Noto Sans's other characters (Greek, Cyrillic, more Latin) join the base font, for this
    # document: one font and no fallback is what fpdf2 sets fastest.
    extra, needed = needed & library.fonts[0].codepoints, needed - library.fonts[0].codepoints
    if extra:
        made.append(library.subset_file(library.base, extra))
    fonts = [(library.base.name, made[-1] if extra else library.base_file())]
    for font in library.fonts[1:]:
        if needed & font.codepoints:
            made.append(library.subset_file(font, needed & font.codepoints))
            fonts.append((font.name, made[-1]))
            needed -= font.codepoints
    for name, path in fonts:
        pdf.add_font(name, "", path)
        # The subsets' bounding boxes are right already: recomputing them when fpdf2 saves
        # its own subset recompiles every glyph it keeps, a good part of a PDF's time.
        embedded = pdf.fonts[name.lower()]
        if isinstance(embedded, TTFFont):
            embedded.ttfont.recalcBBoxes = False
    if len(fonts) > 1:  # (without fallbacks, fpdf2 takes a much faster path through a text)
        pdf.set_fallback_fonts([name for name, _ in fonts[1:]], exact_match=False)


def _weight(pdf: FPDF, bold: bool) -> Any:
    if not bold:
        return nullcontext()
    # fpdf2 writes a text's line width into its text object as is, so in points (2.8.9)
    stroke = _BOLD_STROKE * pdf.font_size_pt
    return pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=stroke)


def _lines(pdf: FPDF, text: str, width: float) -> list[str]:
    """`text` broken into lines that fit `width`, between words or inside a word longer than
    a line: nothing is cut off. Shaped text is measured as HarfBuzz shapes it."""
    room = width - 2 * pdf.c_margin
    if text.isascii() and len(text) * pdf.font_size <= room:  # no ASCII glyph is 1 em wide
        return [text]
    if _needs_shaping(text):
        return _shaped_lines(pdf, text, room)
    if pdf.get_string_width(text) <= room:
        return [text]
    lines = pdf.multi_cell(width, _LINE, text, dry_run=True, output=MethodReturnValue.LINES)
    return cast(list[str], lines) or [text]


def _shaped_lines(pdf: FPDF, text: str, room: float) -> list[str]:
    def fits(part: str) -> bool:
        return _shaped_width(pdf, part) <= room

    if fits(text):
        return [text]
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if not line or not fits(f"{line} {word}"):
            if line:
                lines.append(line)
            line = word
            while len(line) > 1 and not fits(line):  # a word longer than a line
                # the longest part that fits, cut before a character that is no mark or
                # joiner and follows no joiner (never between a letter and its signs)
                cuts = [i for i in range(1, len(line)) if _cuttable(line, i)] or [len(line)]
                low, high = 0, len(cuts) - 1
                while low < high:
                    middle = (low + high + 1) // 2
                    low, high = (middle, high) if fits(line[: cuts[middle]]) else (low, middle - 1)
                lines.append(line[: cuts[low]])
                line = line[cuts[low] :]
        else:
            line = f"{line} {word}"
    return [*lines, line] if line else lines


def _cuttable(text: str, i: int) -> bool:
    char = text[i]
    return (
        unicodedata.category(char)[0] != "M"
        and char not in _JOINERS
        and (text[i - 1] not in _JOINERS)
    )


def _put(pdf: FPDF, x: float, y: float, width: float, text: str, align: str = "L",
         bold: bool = False, height: float = _LINE,
         shaped: bool | None = None) -> None:  # fmt: skip
    """One line of text in the box at (x, y); each line of a shaped text is shaped."""
    pdf.set_xy(x, y)
    if _needs_shaping(text) if shaped is None else shaped:
        _put_shaped(pdf, width, height, text, align, bold)
    else:
        with _weight(pdf, bold):
            pdf.cell(width, height, text, align=align)


class _Pen:
    """Writes HarfBuzz's pen calls for one glyph as PDF path operators, in thousandths of an
    em (whole numbers), a quadratic curve as the cubic curve it equals."""

    def __init__(self, scale: float) -> None:
        self.scale = scale  # thousandths of an em per font unit
        self.operators: list[str] = []
        self.last = (0.0, 0.0)

    def _add(self, operator: str, *points: tuple[float, float]) -> None:
        numbers = (str(round(value * self.scale)) for point in points for value in point)
        self.operators.append(" ".join((*numbers, operator)))
        self.last = points[-1] if points else self.last

    def moveTo(self, point: tuple[float, float]) -> None:
        self._add("m", point)

    def lineTo(self, point: tuple[float, float]) -> None:
        self._add("l", point)

    def qCurveTo(self, control: tuple[float, float], point: tuple[float, float]) -> None:
        (x0, y0), (qx, qy), (x, y) = self.last, control, point
        first = (x0 + 2 * (qx - x0) / 3, y0 + 2 * (qy - y0) / 3)
        self._add("c", first, (x + 2 * (qx - x) / 3, y + 2 * (qy - y) / 3), point)

    def curveTo(self, c1: tuple[float, float], c2: tuple[float, float],
                point: tuple[float, float]) -> None:  # fmt: skip
        self._add("c", c1, c2, point)

    def closePath(self) -> None:
        self._add("h")


class _Outline:
    """The glyphs of a line of shaped text as one item of an fpdf2 drawing (a
    drawing.Renderable): a `cm` from thousandths of an em to the page, then each glyph's
    operators, made once per process, painted in a `q ... cm ... Q` of its own at its place.
    A path or an element per curve or glyph costs fpdf2 tens of milliseconds per name; the
    same operators for each use of a glyph also compress well."""

    def __init__(self, operators: str) -> None:
        self.operators = operators

    @property
    def end_point(self) -> Point:
        return Point(0, 0)

    def bounding_box(self, start: Point) -> tuple[BoundingBox, Point]:
        return BoundingBox.empty(), start

    def render(self, resource_registry: Any, style: Any, last_item: Renderable,
               initial_point: Point) -> tuple[str, Renderable, Point]:  # fmt: skip
        return self.operators, self, initial_point


def _visual_runs(text: str) -> tuple[list[str], list[tuple[str, bool, _Font]]]:
    """`text` in display order (Unicode bidi algorithm) as its runs of one embedding level,
    and its runs left to right as HarfBuzz shapes them: in logical order, with their
    direction and font."""
    library = _library()
    paragraph = BidiParagraph(
        text=text, base_direction=auto_detect_base_direction(text), preserve_bn_chars=True
    )
    ordered = paragraph.get_reordered_characters()
    levels: list[tuple[int, list[str]]] = []
    for bidi in ordered:
        if levels and levels[-1][0] == bidi.embedding_level:
            levels[-1][1].append(bidi.character)
        else:
            levels.append((bidi.embedding_level, [bidi.character]))
    runs: list[tuple[str, bool, _Font]] = []
    for level, chars in levels:
        rtl = level % 2 == 1
        pieces: list[tuple[str, bool, _Font]] = []
        font = None
        for char in reversed(chars) if rtl else chars:
            chosen = library.font_for(char, font)
            if pieces and chosen is font:
                pieces[-1] = (pieces[-1][0] + char, rtl, chosen)
            else:
                pieces.append((char, rtl, chosen))
            font = chosen
        runs.extend(reversed(pieces) if rtl else pieces)
    return ["".join(chars) for _, chars in levels], runs


def _shaped_width(pdf: FPDF, text: str) -> float:
    """The width of `text` as HarfBuzz shapes it (mm)."""
    library, units = _library(), 0.0
    for run, rtl, font in _visual_runs(text)[1]:
        positions = library.shape(font, run, rtl)[1]
        units += sum(position.x_advance for position in positions) * 1000 / library.upem(font)
    return units * pdf.font_size / 1000


def _put_shaped(pdf: FPDF, width: float, height: float, text: str, align: str, bold: bool) -> None:
    """Shaped text: the glyphs HarfBuzz places, drawn as outlines, under the same text
    written invisibly one glyph per character in display order. A reader sees correct
    joining and reordering; copying or extracting the text gives the characters of the name
    (extractors turn right-to-left display order back into logical order)."""
    library = _library()
    size = pdf.font_size
    visual, runs = _visual_runs(text)
    paint = "B" if bold else "f"  # fill, or fill and stroke, nonzero winding
    operators = []
    advance = 0.0  # in thousandths of an em, as the outlines
    for run, rtl, font in runs:
        scale = 1000 / library.upem(font)
        infos, positions = library.shape(font, run, rtl)
        for info, position in zip(infos, positions, strict=True):
            outline = library.outline(font, info.codepoint)
            if outline:
                x, y = advance + position.x_offset * scale, position.y_offset * scale
                operators.append(f"q 1 0 0 1 {x:.0f} {y:.0f} cm {outline} {paint} Q")
            advance += position.x_advance * scale
    em = size / 1000  # mm per unit
    room = width - 2 * pdf.c_margin
    squeeze = min(1.0, room / (advance * em)) if advance > 0 else 1.0
    drawn = advance * em * squeeze
    left = pdf.x + pdf.c_margin + {"L": 0.0, "R": room - drawn, "C": (room - drawn) / 2}[align]
    baseline = pdf.y + height / 2 + 0.3 * size  # where fpdf2's cell() puts it
    top = pdf.y
    if operators:
        # A group, not a path: each glyph's operators are the whole path object they paint
        # (fpdf2 starts a path before a path's elements and paints it after them). The
        # scale is ours, with six decimals: fpdf2 writes a transform with four.
        group = GraphicsContext()
        if bold:
            group.style.stroke_width = _BOLD_STROKE * 1000  # in thousandths of an em
        place = f"q {em * squeeze:.6f} 0 0 {-em:.6f} {left:.4f} {baseline:.4f} cm"
        group.add_item(_Outline("\n".join([place, *operators, "Q"])), clone=False)
        pdf.draw_path(group, copy=False)
    # Each run of one direction in a text object of its own, in the document's text font
    # (_add_fonts): extractors read a right-to-left run back into logical order only
    # within one text operator, and a change of font would start another.
    with pdf.local_context(font_family=_TEXT_FONT, text_mode=TextMode.INVISIBLE):
        natural = sum(pdf.get_string_width(run) for run in visual)
        pdf.set_stretching(100.0 * drawn / natural if natural > 0 and drawn > 0 else 100.0)
        pdf.set_xy(left, top)
        margin, pdf.c_margin = pdf.c_margin, 0.0  # runs side by side, as they are drawn
        for run in visual:
            pdf.cell(text=run, h=height)
    pdf.c_margin = margin


def _room(pdf: FPDF, height: float) -> None:
    if pdf.will_page_break(height):
        pdf.add_page()


def _field(pdf: FPDF, label: str, value: str) -> None:
    """A header line: its label, then its value over as many lines as it needs."""
    width, text = pdf.epw - _LABEL, _clean(value)
    lines, shaped = _lines(pdf, text, width), _needs_shaping(text)
    _room(pdf, _LINE * len(lines))
    x, y = pdf.l_margin, pdf.get_y()
    _put(pdf, x, y, _LABEL, label)
    for i, line in enumerate(lines):
        _put(pdf, x + _LABEL, y + i * _LINE, width, line, shaped=shaped)
    pdf.set_xy(x, y + _LINE * len(lines))


def _row(pdf: FPDF, cells: tuple[str, str, str, str], bold: bool = False) -> None:
    """A table row: the description wraps over as many lines as it needs."""
    pdf.set_font(_library().base.name, "", 9)
    text = _clean(cells[0])
    lines, shaped = _lines(pdf, text, _WIDTHS[0]), _needs_shaping(text)
    _room(pdf, _LINE * len(lines))
    x, y = pdf.l_margin, pdf.get_y()
    for i, line in enumerate(lines):
        _put(pdf, x, y + i * _LINE, _WIDTHS[0], line, bold=bold, shaped=shaped)
    left = x + _WIDTHS[0]
    for width, cell in zip(_WIDTHS[1:], cells[1:], strict=True):
        if cell:
            _put(pdf, left, y, width, _clean(cell), "R", bold)
        left += width
    pdf.set_xy(x, y + _LINE * len(lines))


def render_pdf(doc: dict[str, Any]) -> bytes:
    """One invoice document (docs/invoice-schema.md) as PDF bytes. An issued invoice's PDF is
    dated at its issue, so it is the same bytes each time it is drawn; a draft's, now."""
    pdf = _Invoice(format="A4")
    if doc.get("issued_at"):
        pdf.set_creation_date(datetime.fromisoformat(doc["issued_at"]))
    made: list[Path] = []
    try:
        _add_fonts(pdf, [_clean(v) for v in _strings(doc)], made)
        pdf.set_auto_page_break(auto=True, margin=18)
        pdf.alias_nb_pages(_PAGES)
        pdf.add_page()
        _draw(pdf, doc)
        return bytes(pdf.output())
    finally:
        for path in made:
            with suppress(OSError):
                path.unlink()


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def _draw(pdf: FPDF, doc: dict[str, Any]) -> None:
    currency = doc["currency"]
    base = _library().base.name
    pdf.set_font(base, "", 18)
    _put(pdf, pdf.l_margin, pdf.get_y(), pdf.epw, "INVOICE", bold=True, height=10)
    pdf.set_xy(pdf.l_margin, pdf.get_y() + 10)
    pdf.set_font(base, "", 10)
    status = doc["status"] + (f", {doc['issued_at']}" if doc.get("issued_at") else "")
    for label, value in [
        ("From", doc["issuer"]),
        ("Bill to", doc["tenant_id"]),
        ("Invoice number", doc["invoice_id"]),
        ("Period", f"{doc['period_start']} to {doc['period_end']} (UTC)"),
        ("Currency", currency),
        ("Status", status),
    ]:
        _field(pdf, label, value)
    pdf.ln(4)
    _row(pdf, ("Description", "Tokens", f"Per 1M tokens ({currency})", "Amount"), bold=True)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(_WIDTHS), pdf.get_y())
    _lines_table(pdf, doc)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(_WIDTHS), pdf.get_y())
    pdf.ln(2)
    for label, field in [("Usage subtotal", "subtotal"), ("Discounts", "discounts"),
                         ("Credits applied", "credits_applied"),
                         ("Commitment shortfall", "commitment_shortfall"),
                         ("Corrections", "corrections")]:  # fmt: skip
        _row(pdf, (label, "", "", money(doc[field], currency)))
    _row(pdf, ("Total due", "", "", money(doc["total"], currency)), bold=True)
    pdf.ln(4)
    pdf.set_font(base, "", 8)
    note = (
        f"{len(doc['lines'])} lines. Each line is rounded once to the currency's minor unit, "
        "half away from zero; the total is the exact sum of the lines."
    )
    for line in _lines(pdf, note, pdf.epw):
        _put(pdf, pdf.l_margin, pdf.get_y(), pdf.epw, line, height=4)
        pdf.set_y(pdf.get_y() + 4)


def _lines_table(pdf: FPDF, doc: dict[str, Any]) -> None:
    currency = doc["currency"]
    model = None
    for line in doc["lines"]:
        if line["line_type"] == "usage":
            if line["model_id"] != model:
                model = line["model_id"]
                _row(pdf, (model, "", "", ""), bold=True)
            _row(pdf, (
                "  " + _CLASS_NAMES.get(line["token_class"], line["token_class"]),
                f"{line['quantity_tokens']:,}",
                f"{Decimal(line['unit_price_per_1m_tokens']).normalize():f}",
                money(line["amount"], currency),
            ))  # fmt: skip
        elif line["line_type"] == "correction":
            corrected = line["model_id"] or _LINE_NAMES.get(line["corrected_line_type"], "")
            if line["token_class"]:
                corrected += " " + _CLASS_NAMES.get(line["token_class"], line["token_class"])
            tokens, price = line["quantity_tokens"], line["unit_price_per_1m_tokens"]
            _row(pdf, (
                f"Correction {line['corrects_invoice_id']}",
                "" if tokens is None else f"{tokens:,}",
                "" if price is None else f"{Decimal(price).normalize():f}",
                money(line["amount"], currency),
            ))  # fmt: skip
            _row(pdf, ("  " + corrected, "", "", ""))
        else:
            _row(pdf, (_LINE_NAMES.get(line["line_type"], line["line_type"]), "", "",
                       money(line["amount"], currency)))  # fmt: skip
