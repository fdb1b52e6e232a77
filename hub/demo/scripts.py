"""Writing systems: fold names into what an old system can store, and into email local parts.

The CRM is a cp1252 export, so Polish or Turkish letters outside cp1252 arrive folded
(``Łukasz`` -> ``Lukasz``) while the UTF-8 billing system keeps them: a realistic source
of "same person, different spelling". Email addresses need plain ASCII, so Cyrillic and
Greek names are transliterated with small tables (no extra dependency for a demo).
"""

from __future__ import annotations

import unicodedata

# Letters NFKD does not decompose into base letter + accent.
_SPECIAL = {"ł": "l", "Ł": "L", "ı": "i", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O",
            "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ß": "ss"}
# German convention for email addresses: Müller -> mueller, not muller.
_GERMAN = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
_CYRILLIC = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o",
     "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e",
     "yu", "ya"], strict=True))
_GREEK = dict(zip(
    "αβγδεζηθικλμνξοπρσςτυφχψω",
    ["a", "v", "g", "d", "e", "z", "i", "th", "i", "k", "l", "m", "n", "x", "o", "p",
     "r", "s", "s", "t", "y", "f", "ch", "ps", "o"], strict=True))

_GREEK_PAIRS = (("ου", "ou"), ("ού", "ou"), ("Ου", "Ou"), ("αυ", "av"), ("αύ", "av"),
                ("Αυ", "Av"), ("ευ", "ev"), ("εύ", "ev"), ("Ευ", "Ev"), ("γγ", "ng"))


def _strip_accents(ch: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", ch)
                   if not unicodedata.combining(c))


def to_cp1252(text: str) -> str:
    """Keep what cp1252 can store; fold the rest the way old exports did."""
    out = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        folded = _SPECIAL.get(ch) or _strip_accents(ch)
        try:
            folded.encode("cp1252")
        except UnicodeEncodeError:
            folded = "?"
        out.append(folded)
    return "".join(out)


def to_ascii(text: str) -> str:
    """Lower-case ASCII for email local parts; Cyrillic and Greek transliterated."""
    for greek, latin in _GREEK_PAIRS:  # digraphs first: "ου" is "ou", not "oy"
        text = text.replace(greek, latin)
    out = []
    for ch in text:
        if ch in _GERMAN:
            out.append(_GERMAN[ch].lower())
            continue
        base = _SPECIAL.get(ch) or _strip_accents(ch)
        for b in base.lower():
            b = _CYRILLIC.get(b, _GREEK.get(b, b))
            out.append(b if b.isascii() and (b.isalnum() or b in ".-") else "")
    return "".join(out).strip(".-")


# Faker's zh_CN names carry no reading, so Chinese names come from this small table of
# common characters with their pinyin: the romanised form is then the person's own.
ZH_SURNAMES = (("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"),
               ("杨", "Yang"), ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"),
               ("徐", "Xu"), ("孙", "Sun"), ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"),
               ("郭", "Guo"), ("何", "He"), ("林", "Lin"), ("罗", "Luo"), ("高", "Gao"))
ZH_GIVEN = {"m": (("伟", "Wei"), ("强", "Qiang"), ("磊", "Lei"), ("军", "Jun"),
                  ("洋", "Yang"), ("勇", "Yong"), ("杰", "Jie"), ("涛", "Tao"),
                  ("明", "Ming"), ("超", "Chao"), ("志强", "Zhiqiang"), ("建华", "Jianhua")),
            "f": (("芳", "Fang"), ("娜", "Na"), ("敏", "Min"), ("静", "Jing"),
                  ("丽", "Li"), ("艳", "Yan"), ("娟", "Juan"), ("霞", "Xia"),
                  ("秀英", "Xiuying"), ("婷", "Ting"), ("雪", "Xue"), ("慧敏", "Huimin"))}
