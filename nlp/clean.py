"""Text cleaning: width and script normalisation, boilerplate removal, PII masking.

Order matters: full-width digits are folded to ASCII before masking so that
``１３８…`` is caught, and masking runs before boilerplate removal so no rule
ever sees a raw phone number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tousu.nlp.paths import data_dir
from tousu.nlp.versioned_file import read_versioned_lines

MASK_TOKENS = ("<PHONE>", "<ID>", "<CARD>", "<EMAIL>")

# Full-width ASCII block (！..～) and the ideographic space fold to their ASCII forms;
# Chinese punctuation such as 。、「」 has no ASCII twin and is kept.
_FULL_TO_HALF = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# Translating looks up every character; most texts have nothing to fold, which one search tells.
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")

# Phone and ID numbers are caught even when glued to letters (Tel13812345678, wx159…,
# ID1101…), so only a digit may not touch them; cards, landlines and the old 15-digit ID stay
# apart from letters too, since order and product codes (DD2026030612345678) look like them.
_NOT_DIGIT_BEFORE = r"(?<!\d)"
_NOT_DIGIT_AFTER = r"(?!\d)"
_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"
# What people put between digit groups: 138-1234-5678, 138 1234 5678, 138.1234.5678.
_SEPARATOR = r"[-.\s]?"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# 18-digit resident ID: area(6) + birth date YYYYMMDD + sequence(3) + check digit/X, also written
# in its groups (110101 19900307 1234); and the old 15-digit form.
_ID_CARD = re.compile(
    _NOT_DIGIT_BEFORE
    + r"[1-9]\d{5}" + _SEPARATOR + r"(?:18|19|20)\d{2}" + _SEPARATOR
    + r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])" + _SEPARATOR + r"\d{3}[\dXx]" + _NOT_DIGIT_AFTER
)
_OLD_ID_CARD = re.compile(
    _NOT_ALNUM_BEFORE + r"[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}" + _NOT_ALNUM_AFTER
)
_MOBILE = re.compile(
    _NOT_DIGIT_BEFORE + r"(?:(?:\+|00)?86" + _SEPARATOR + r")?1[3-9]\d(?:" + _SEPARATOR + r"\d{4}){2}"
    + _NOT_DIGIT_AFTER
)
# Landlines need the trunk prefix 0 + area code: written with a dash or brackets (010-12345678,
# (0755)1234567) they are phones even glued to letters (Tel010-…, 025-83287121MMM); unbroken
# (01012345678) only apart from letters, as a code such as DD02012345678 is not one.
_LANDLINE = re.compile(
    _NOT_DIGIT_BEFORE + r"(?:\(0\d{2,3}\)|0\d{2,3}-)\s?[2-9]\d{6,7}(?:-\d{1,5})?" + _NOT_DIGIT_AFTER
    + "|" + _NOT_ALNUM_BEFORE + r"0\d{2,3}\s?[2-9]\d{6,7}" + _NOT_ALNUM_AFTER
)
# Bank cards are 16-19 digits, often written in groups of four.
_BANK_CARD = re.compile(
    _NOT_ALNUM_BEFORE + r"\d{4}(?:[-\s]?\d{4}){3}(?:[-\s]?\d{1,3})?" + _NOT_ALNUM_AFTER
)
# UnionPay, which issues nearly every Chinese bank card.
_UNIONPAY_PREFIX = "62"


def _passes_luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(map(int, reversed(digits))):
        total += digit if position % 2 == 0 else (2 * digit) // 10 + (2 * digit) % 10
    return total % 10 == 0


def _card_or_order_number(match: re.Match) -> str:
    """``<CARD>`` for a bank card; an unbroken run of digits that is neither a UnionPay number
    nor passes the Luhn check every card number passes is an order or tracking number (a
    19-digit 淘宝 order number) and stays."""
    number = match.group()
    if number.isdigit() and not number.startswith(_UNIONPAY_PREFIX) and not _passes_luhn(number):
        return number
    return "<CARD>"


# Every form above holds an e-mail's @ or a run of at least ten digits and separators: a text
# without one (most texts: a short amount or date at most) is passed over in one search.
_MAYBE_PII = re.compile(r"@|\d[\d\s().+-]{8,}\d")
_PII_RULES = (
    (_EMAIL, "<EMAIL>"),
    (_ID_CARD, "<ID>"),
    (_OLD_ID_CARD, "<ID>"),
    (_MOBILE, "<PHONE>"),
    (_BANK_CARD, _card_or_order_number),
    (_LANDLINE, "<PHONE>"),
)
_WHITESPACE = re.compile(r"\s+")
# Spaces matter between Latin words ("5G network") but are noise between Chinese characters.
_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])")


def to_halfwidth(text: str) -> str:
    return text.translate(_FULL_TO_HALF) if _FULL_WIDTH.search(text) else text


@lru_cache(maxsize=1)
def _t2s_converter():
    from opencc import OpenCC

    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _changed_by_t2s() -> re.Pattern:
    """Any character that OpenCC's t2s dictionaries replace, alone or inside a phrase.

    A text without one converts to itself, since every entry that changes a text contains
    one. That is most mainland complaints (85 % of COCC, waimai and online_shopping), and
    the pure-Python converter costs about a millisecond a complaint, more than the rest
    of cleaning together, so it runs only on the texts that can change.
    """
    import opencc

    folder = Path(opencc.__file__).parent / "dictionary"
    changing = set()
    for name in ("TSPhrases.txt", "TSCharacters.txt"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            source, _, targets = line.partition("\t")
            target = targets.split(" ")[0]
            if len(source) == len(target):
                changing.update(s for s, t in zip(source, target) if s != t)
            else:
                changing.update(source)
    return re.compile("[" + "".join(re.escape(c) for c in sorted(changing)) + "]")


def to_simplified(text: str) -> str:
    if not _changed_by_t2s().search(text):
        return text
    return _t2s_converter().convert(text)


def normalize_whitespace(text: str) -> str:
    return _SPACE_BETWEEN_CJK.sub("", _WHITESPACE.sub(" ", text)).strip()


def mask_pii(text: str) -> str:
    """Replace phone, ID-card, bank-card numbers and e-mail addresses with tokens.

    Phone and ID numbers are caught glued to letters and split by dots, spaces or dashes;
    order numbers, amounts, dates and times stay (``python bench/masking.py`` measures both).
    Existing ``******`` masks from upstream systems are left as they are.
    """
    if not _MAYBE_PII.search(text):
        return text
    for pattern, token in _PII_RULES:
        text = pattern.sub(token, text)
    return text


@dataclass(frozen=True)
class BoilerplateRules:
    version: str
    prefixes: tuple[re.Pattern, ...]
    suffixes: tuple[re.Pattern, ...]
    anywhere: tuple[re.Pattern, ...]

    def strip(self, text: str) -> str:
        for pattern in self.anywhere:
            text = pattern.sub("", text)
        for pattern in self.prefixes:
            text = pattern.sub("", text, count=1)
        for pattern in self.suffixes:
            text = pattern.sub("", text, count=1)
        return text


@lru_cache(maxsize=8)
def load_boilerplate(path: str | None = None) -> BoilerplateRules:
    """Boilerplate rules from a versioned TSV (``position<TAB>regex``)."""
    file = data_dir() / "cleaning" / "boilerplate.tsv" if path is None else path
    version, lines = read_versioned_lines(file)
    groups: dict[str, list[re.Pattern]] = {"prefix": [], "suffix": [], "anywhere": []}
    for line_number, line in lines:
        position, _, pattern = line.partition("\t")
        if position not in groups or not pattern:
            raise ValueError(
                f"{file}, line {line_number}: expected 'prefix|suffix|anywhere<TAB>regex', got {line!r}"
            )
        try:
            groups[position].append(re.compile(pattern))
        except re.error as error:
            raise ValueError(f"{file}, line {line_number}: bad regular expression: {error}") from None
    return BoilerplateRules(
        version, tuple(groups["prefix"]), tuple(groups["suffix"]), tuple(groups["anywhere"])
    )


@dataclass(frozen=True)
class CleanOptions:
    simplify: bool = True
    mask: bool = True
    strip_boilerplate: bool = True


def clean_text(text: str, options: CleanOptions = CleanOptions()) -> str:
    """Clean one complaint text; see the module docstring for the order of steps."""
    text = normalize_whitespace(to_halfwidth(text))
    if options.simplify:
        text = to_simplified(text)
    if options.mask:
        text = mask_pii(text)
    if options.strip_boilerplate:
        stripped = load_boilerplate().strip(text).strip()
        # A text that is nothing but boilerplate keeps its words: empty would lose the row.
        text = stripped or text
    return text


def clean_texts(texts, options: CleanOptions = CleanOptions()) -> list[str]:
    return [clean_text(text, options) for text in texts]
