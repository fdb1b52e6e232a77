"""Distinguished names (RFC 4514): escaping a value into an RDN, splitting off the first.

Own code, because key values are arbitrary text (commas, plus signs, ``#``, unicode) and
``ldap3.utils.dn.parse_dn`` refuses some DNs that servers legitimately return.
"""

from __future__ import annotations

_SPECIAL = set(',+"\\<>;=')


def escape_value(value: str) -> str:
    """An attribute value escaped for use in an RDN."""
    out = []
    for i, ch in enumerate(value):
        if ch in _SPECIAL or (i == 0 and ch in " #") or (i == len(value) - 1 and ch == " "):
            out.append("\\" + ch)
        elif ch == "\0":
            out.append("\\00")
        else:
            out.append(ch)
    return "".join(out)


def _unescape(text: str) -> str:
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            pair = text[i + 1:i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                raw.append(int(pair, 16))  # \c3\bc: UTF-8 bytes written as hex pairs
                i += 3
                continue
            raw.extend(text[i + 1].encode())
            i += 2
            continue
        raw.extend(ch.encode())
        i += 1
    return raw.decode("utf-8", errors="replace")


def split_first(dn: str) -> tuple[str, str, str]:
    """(attribute, unescaped value, parent DN) of a single-valued first RDN."""
    i, escaped = 0, False
    while i < len(dn):
        ch = dn[i]
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            break
        i += 1
    first, parent = dn[:i], dn[i + 1:]
    attribute, _, value = first.partition("=")
    return attribute.strip(), _unescape(value), parent


def rdn(attribute: str, value: str) -> str:
    return f"{attribute}={escape_value(value)}"
