"""How much personal data does the masker catch, and what else does it take?

    python bench/masking.py [--per-form 300] [--examples 8] [--out bench/results/masking.json]

* **planted**: each form of phone, ID, card number and e-mail the masker is meant to catch (glued
  to letters, split by dots, spaces or dashes, full-width …) is written into sentences like a work
  order's, with random numbers; *recall* is the share of sentences where the number is gone and
  the right token stands in its place. The same for what must survive (order numbers, amounts,
  dates, times, codes): *kept* is the share of sentences left exactly as they were.
* **real texts**: the masker runs over the demo's work orders (``data/demo``, which the project
  writes) and COCC's dev work orders (``../shared/data/cocc/dev.tsv``, skipped with a message
  where it is missing). Each masked span is judged by a stricter check of its own (a phone
  number needs an allocated mobile prefix or a phone word just before it, a landline a real area
  code, an ID a valid birth date and check digit, a card the Luhn check, an e-mail a plain domain):
  the *false-positive rate* is the share of texts where something was masked that this check
  does not take for personal data. *Possible misses* are texts whose masked version still holds
  a number the check takes for one. Examples of both are printed, to judge by eye.

Texts are folded to half width first, as ``tousu clean`` does before masking.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, SHARED_DATA_DIR, load_cocc, machine_info, markdown_table, write_json

from tousu.nlp.clean import MASK_TOKENS, mask_pii, to_halfwidth
from tousu.nlp.paths import data_dir

# Mobile prefixes allocated by MIIT (1xx), for the stricter check and for realistic numbers.
MOBILE_PREFIXES = tuple(str(p) for p in [*range(130, 140), *range(145, 150), 150, 151, 152, 153, *range(155, 160),
                                          162, 165, 166, 167, *range(170, 179), *range(180, 190), 190, 191, 192,
                                          193, *range(195, 200)])
PHONE_WORDS = re.compile(r"(电话|号码|手机|致电|来电|回电|回拨|联系|拨打|打|热线|微信|wx|Tel|tel|TEL|V信|vx|号)[是为:：]?\W{0,2}$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
AREA_CODES = ("110101", "310104", "440305", "330106", "510107", "420102", "320102", "370102")
SENTENCES = ("客户来电称{x}无法接通，要求回电", "请回电{x}，谢谢", "联系方式：{x}。", "用户留言{x}要求退费",
             "{x}", "机主{x}反映话费被多扣", "回访电话({x})无人接听", "客户称号码为{x}，已核实")


# ----------------------------------------------------------------------------- planted forms


def _mobile(rng) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _id_number(rng, last_x: bool = False) -> str:
    born = date(rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28))
    body = f"{rng.choice(AREA_CODES)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    check = ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS)) % 11]
    if last_x and check != "X":
        return _id_number(rng, last_x)
    return body + check


def _luhn_completed(prefix: str, length: int, rng) -> str:
    digits = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if _passes_luhn(digits + check):
            return digits + check
    raise AssertionError("a Luhn check digit always exists")


def _groups(number: str, sizes) -> list[str]:
    parts, start = [], 0
    for size in sizes:
        parts.append(number[start:start + size])
        start += size
    return parts


PII_FORMS = {  # form → (token it should become, writer)
    "mobile": ("<PHONE>", _mobile),
    "mobile +86": ("<PHONE>", lambda rng: "+86" + _mobile(rng)),
    "mobile glued Tel…": ("<PHONE>", lambda rng: "Tel" + _mobile(rng)),
    "mobile glued wx…": ("<PHONE>", lambda rng: "wx" + _mobile(rng)),
    "mobile 138.1234.5678": ("<PHONE>", lambda rng: ".".join(_groups(_mobile(rng), (3, 4, 4)))),
    "mobile 138 1234 5678": ("<PHONE>", lambda rng: " ".join(_groups(_mobile(rng), (3, 4, 4)))),
    "mobile 138-1234-5678": ("<PHONE>", lambda rng: "-".join(_groups(_mobile(rng), (3, 4, 4)))),
    "mobile +86 138 1234 5678": ("<PHONE>", lambda rng: "+86 " + " ".join(_groups(_mobile(rng), (3, 4, 4)))),
    "mobile full-width": ("<PHONE>", lambda rng: _mobile(rng).translate({c: c + 0xFEE0 for c in range(48, 58)})),
    "landline 010-87654321": ("<PHONE>", lambda rng: f"0{rng.choice(['10', '21', '755', '571'])}-"
                                                     f"{rng.randint(2, 9)}{rng.randrange(10**7):07d}"),
    "landline glued Tel010-…": ("<PHONE>", lambda rng: f"Tel0{rng.choice(['10', '21', '755'])}-"
                                                        f"{rng.randint(2, 9)}{rng.randrange(10**7):07d}"),
    "landline (0755)8600123": ("<PHONE>", lambda rng: f"(0{rng.choice(['755', '571', '20'])})"
                                                      f"{rng.randint(2, 9)}{rng.randrange(10**6):06d}"),
    "ID 18 digits": ("<ID>", _id_number),
    "ID ending X": ("<ID>", lambda rng: _id_number(rng, last_x=True)),
    "ID glued ID…": ("<ID>", lambda rng: "ID" + _id_number(rng)),
    "ID 110101 19900307 1234": ("<ID>", lambda rng: " ".join(_groups(_id_number(rng), (6, 8, 4)))),
    "card UnionPay 19 digits": ("<CARD>", lambda rng: _luhn_completed("62", 19, rng)),
    "card in groups of four": ("<CARD>", lambda rng: " ".join(_groups(_luhn_completed("6222", 16, rng), (4,) * 4))),
    "card Visa 16 digits": ("<CARD>", lambda rng: _luhn_completed("4", 16, rng)),
    "e-mail": ("<EMAIL>", lambda rng: f"user{rng.randrange(1000)}@{rng.choice(['qq.com', '163.com', 'example.cn'])}"),
}
SURVIVOR_FORMS = {
    "order number 19 digits": lambda rng: f"订单号{rng.randint(1, 9)}{rng.randrange(10**18):018d}",
    "order number DD + 16 digits": lambda rng: f"订单编号DD2026{rng.randrange(10**12):012d}",
    "order number 12 digits": lambda rng: f"订单号{rng.randint(2, 9)}{rng.randrange(10**11):011d}",
    "work-order number": lambda rng: f"工单号GD2026{rng.randint(1, 12):02d}{rng.randrange(10**5):05d}",
    "amount 58元": lambda rng: f"扣了{rng.randint(1, 999)}元",
    "amount 128.50": lambda rng: f"退回{rng.randint(1, 9999)}.{rng.randrange(100):02d}元",
    "amount 1,280.00": lambda rng: f"共{rng.randint(1, 99)},{rng.randrange(1000):03d}.00元",
    "date 2026-09-01": lambda rng: f"{rng.randint(2020, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    "date 20260901": lambda rng: f"{rng.randint(2020, 2027)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}到期",
    "date and time": lambda rng: f"{rng.randint(2020, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                                 f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
    "time 9:45": lambda rng: f"{rng.randrange(24)}:{rng.randrange(60):02d}到{rng.randrange(24)}:{rng.randrange(60):02d}",
    "line code": lambda rng: f"专线编号CMNET-NQ-B-FTTO-{rng.randrange(10**6):06d}",
    "service number": lambda rng: rng.choice(["拨打10086", "向12300投诉", "12321举报", "打10010"]),
    "timestamp ms": lambda rng: f"时间戳{rng.randint(1_600_000_000_000, 1_800_000_000_000)}",
}


def planted_rows(per_form: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for form, (token, write) in PII_FORMS.items():
        caught = 0
        for _ in range(per_form):
            value = write(rng)
            masked = mask_pii(to_halfwidth(rng.choice(SENTENCES).format(x=value)))
            digits = re.sub(r"\D", "", to_halfwidth(value)) if "@" not in value else value
            caught += token in masked and digits not in re.sub(r"\D", "", masked) and value not in masked
        rows.append({"kind": "personal data", "form": form, "n": per_form, "recall": round(caught / per_form, 4)})
    for form, write in SURVIVOR_FORMS.items():
        kept = 0
        for _ in range(per_form):
            sentence = rng.choice(SENTENCES).format(x=write(rng))
            kept += mask_pii(to_halfwidth(sentence)) == to_halfwidth(sentence)
        rows.append({"kind": "must survive", "form": form, "n": per_form, "kept": round(kept / per_form, 4)})
    return rows


# ----------------------------------------------------------------------------- the stricter check


def _passes_luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(map(int, reversed(digits))):
        total += digit if position % 2 == 0 else (2 * digit) // 10 + (2 * digit) % 10
    return total % 10 == 0


def _real_date(text: str) -> bool:
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return 1900 <= born.year <= date.today().year


def is_phone(span: str, before: str) -> bool:
    digits = re.sub(r"\D", "", span)
    if len(digits) > 11 and digits.startswith(("0086", "86")) and digits[-11] == "1":
        digits = digits[-11:]
    if len(digits) == 11 and digits[0] == "1":
        return digits[:3] in MOBILE_PREFIXES or PHONE_WORDS.search(before) is not None
    landline = re.fullmatch(r"\(?(0(?:10|2\d|[3-9]\d{2}))\)?[-\s]?([2-9]\d{6,7})(?:-\d{1,5})?", span.strip())
    return landline is not None


def is_id_number(span: str) -> bool:
    number = re.sub(r"[-.\s]", "", span).upper()
    if len(number) == 15:
        return number[0] in "12345678" and _real_date("19" + number[6:12])
    return (len(number) == 18 and number[0] in "12345678" and _real_date(number[6:14])
            and ID_CHECK[sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS)) % 11] == number[17])


def is_card(span: str) -> bool:
    digits = re.sub(r"[-\s]", "", span)
    return digits.isdigit() and 16 <= len(digits) <= 19 and _passes_luhn(digits)


def is_email(span: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,6}", span) is not None


STRICT = {"<PHONE>": is_phone, "<ID>": lambda span, _: is_id_number(span), "<CARD>": lambda span, _: is_card(span),
          "<EMAIL>": lambda span, _: is_email(span)}
_TOKENS = re.compile("(" + "|".join(map(re.escape, MASK_TOKENS)) + ")")
# A run of digits, maybe split, long enough to be a phone, ID or card number the masker left.
_NUMBER_LEFT = re.compile(r"(?<![\dA-Za-z])[+(]?\d[\d\s().-]{8,22}\d[Xx]?(?!\d)")


def masked_spans(text: str, masked: str) -> list[tuple[str, str, str]]:
    """(token, the original span it replaced, the text just before) for each token in ``masked``."""
    parts = _TOKENS.split(masked)
    literals, tokens = parts[0::2], parts[1::2]
    if not tokens:
        return []
    pattern = "(.+?)".join(re.escape(literal) for literal in literals)
    found = re.fullmatch(pattern, text, re.DOTALL)
    if found is None:  # the text held a token itself
        return [(token, "?", "") for token in tokens]
    return [(token, found.group(i + 1), text[max(0, found.start(i + 1) - 8):found.start(i + 1)])
            for i, token in enumerate(tokens)]


def corpus_row(name: str, texts: list[str], examples: int) -> dict:
    masked_texts = false_positive = possible_miss = spans = 0
    masked_examples, fp_examples, miss_examples = [], [], []
    for raw in texts:
        text = to_halfwidth(raw)
        masked = mask_pii(text)
        found = masked_spans(text, masked)
        spans += len(found)
        masked_texts += bool(found)
        masked_examples += [{"masked": [f"{before}[{span} → {token}]"], "text": ""} for token, span, before in found
                            ][:examples - len(masked_examples)]
        wrong = [f"{span} → {token}" for token, span, before in found if not STRICT[token](span, before)]
        if wrong:
            false_positive += 1
            if len(fp_examples) < examples:
                fp_examples.append({"masked": wrong, "text": text[:160]})
        left = [number.strip() for number in _NUMBER_LEFT.findall(masked)
                if is_id_number(number) or is_card(number)
                or (is_phone(number, "") and len(re.sub(r"\D", "", number)) >= 10)]
        if left:
            possible_miss += 1
            if len(miss_examples) < examples:
                miss_examples.append({"left": left, "text": masked[:160]})
    return {"corpus": name, "texts": len(texts), "texts_masked": masked_texts, "spans_masked": spans,
            "false_positive_texts": false_positive, "false_positive_rate": round(false_positive / len(texts), 4),
            "possible_miss_texts": possible_miss, "possible_miss_rate": round(possible_miss / len(texts), 4),
            "masked_examples": masked_examples, "false_positive_examples": fp_examples,
            "possible_miss_examples": miss_examples}


def real_corpora() -> dict[str, list[str]]:
    corpora = {"demo work orders": pd.read_csv(data_dir() / "demo" / "complaints.csv", dtype=str)["内容"].tolist()}
    if (SHARED_DATA_DIR / "cocc" / "dev.tsv").is_file():
        corpora["COCC dev"] = load_cocc()[0]
    else:
        print(f"COCC skipped: {SHARED_DATA_DIR / 'cocc' / 'dev.tsv'} not found (benchmark data beside the "
              "repository, see bench/README.md)")
    return corpora


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-form", type=int, default=300, help="sentences planted per form (default 300)")
    parser.add_argument("--examples", type=int, default=8, help="examples printed per corpus and kind (default 8)")
    parser.add_argument("--out", default=str(RESULTS_DIR / "masking.json"))
    args = parser.parse_args()
    planted = planted_rows(args.per_form)
    print(markdown_table(["kind", "form", "n", "recall / kept"],
                         [[row["kind"], row["form"], row["n"], row.get("recall", row.get("kept"))] for row in planted]))
    corpora = [corpus_row(name, texts, args.examples) for name, texts in real_corpora().items()]
    print()
    columns = ["corpus", "texts", "texts_masked", "spans_masked", "false_positive_texts", "false_positive_rate",
               "possible_miss_texts", "possible_miss_rate"]
    print(markdown_table(columns, [[row[c] for c in columns] for row in corpora]))
    for row in corpora:
        for kind, key in (("masked (the text before it, [span → token])", "masked_examples"),
                          ("masked, not personal data by the stricter check", "false_positive_examples"),
                          ("left, personal data by the stricter check", "possible_miss_examples")):
            print(f"\n{row['corpus']}: {kind} ({len(row[key])} shown)")
            for example in row[key]:
                shown = " ; ".join(example.get("masked", example.get("left")))
                print(f"  {shown}  |  {example['text']}" if example["text"] else f"  {shown}")
    print(f"wrote {write_json(args.out, {'machine': machine_info(), 'planted': planted, 'corpora': corpora})}")


if __name__ == "__main__":
    main()
