"""Plant unique canary values in restricted fields, then search every output for them."""

from __future__ import annotations

import base64
import html
import json
import re
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path

# HR export tag -> canonical field; every one of them is restricted.
RESTRICTED_TAGS = {
    "krankheitsgrund": "sick_leave_reason",
    "schwerbehinderung": "disability_status",
    "fuehrungszeugnis": "criminal_record_check",
    "abmahnungen": "disciplinary_notes",
    "iban": "iban",
    "ausweisnummer": "national_id",
    "sozialversicherungsnummer": "social_security_number",
}


def plant(xml: Path) -> dict[str, list[str]]:
    """Give every employee a unique canary in every restricted field; field -> canaries."""
    text = xml.read_text(encoding="utf-8")
    planted: dict[str, list[str]] = {}
    for tag, field in RESTRICTED_TAGS.items():
        counter = iter(range(100_000))
        values: list[str] = []

        def fresh(_: re.Match[str], tag: str = tag, values: list[str] = values,
                  counter: Iterator[int] = counter) -> str:
            value = f"QX{tag[:5].upper()}{next(counter):04d}ZQ"
            values.append(value)
            return f"<{tag}>{value}</{tag}>"

        text = re.sub(rf"<{tag}>[^<]*</{tag}>|<{tag}\s*/>", fresh, text)
        assert values, f"no <{tag}> in the export"
        planted[field] = values
    xml.write_text(text, encoding="utf-8")
    return planted


def encodings(value: str) -> set[str]:
    """The forms a leaked value could take in an output."""
    raw = value.encode()
    return {value, value.lower(), value.upper(), urllib.parse.quote_plus(value),
            html.escape(value), base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def output_texts(folder: Path, exclude: Iterable[str]) -> dict[str, str]:
    """Every file the hub wrote, as text: SQLite databases dumped and read raw."""
    skip = tuple(exclude)
    texts: dict[str, str] = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or rel.startswith(skip):
            continue
        raw = path.read_bytes()
        texts[rel] = raw.decode("utf-8", "replace")
        if raw.startswith(b"SQLite format 3"):
            texts[rel + " (dump)"] = "\n".join(sqlite3.connect(path).iterdump())
    return texts


def leaks(texts: dict[str, str], canaries: Iterable[str]) -> list[tuple[str, str]]:
    """(where, canary) for every canary found in any of its encodings."""
    forms = {form: c for c in canaries for form in encodings(c)}
    pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))
    found = []
    for where, text in texts.items():
        for match in pattern.finditer(text):
            found.append((where, forms[match.group()]))
    return found


def _sealed(entry: object) -> object:
    """The token of a provenance entry (stored as {"sealed": token})."""
    return entry.get("sealed") if isinstance(entry, dict) else entry


def raw_seal_problems(db: Path) -> list[str]:
    """What the raw store file gives away about restricted fields: a NULL or unpadded value,
    or two lengths in one field (golden rows and history together), or an unpadded
    quarantined record. Empty list: every restricted column holds same-size envelopes."""
    from hub.canonical import ENTITIES, MODELS, builtin_fields
    from policies.envelope import is_padded

    problems: list[str] = []
    with sqlite3.connect(db) as conn:
        for entity in ENTITIES:
            fields = [n for n, s in builtin_fields(entity).items() if s.restricted]
            table = MODELS[entity].__tablename__  # type: ignore[attr-defined]
            seen: list[tuple[str, dict[str, object]]] = []
            for gid, provenance, *values in conn.execute(
                    f"SELECT id, provenance, {', '.join(fields)} FROM {table}"):
                # the provenance of a restricted field would tell that it holds a value
                prov = json.loads(provenance or "{}")
                seen.append((f"{table} {gid}", dict(zip(fields, values, strict=True))
                             | {f"provenance.{f}": _sealed(prov.get(f)) for f in fields}))
            for mid, *snaps in conn.execute("SELECT id, survivor_row, merged_row FROM "
                                            "golden_merge WHERE entity = ?", (entity,)):
                for snap in map(json.loads, snaps):  # the golden rows an unmerge restores
                    prov = snap.get("provenance") or {}
                    seen.append((f"{table} merge {mid}", {f: snap.get(f) for f in fields}
                                 | {f"provenance.{f}": _sealed(prov.get(f)) for f in fields}))
            for gid, version, data in conn.execute(
                    "SELECT golden_id, version, data FROM record_history WHERE entity = ?",
                    (entity,)):
                snapshot = json.loads(data) if data else {}
                if snapshot:  # an empty version ends a deleted record: it holds nothing
                    seen.append((f"history {gid} v{version}", snapshot))
            names = fields + [f"provenance.{f}" for f in fields]
            lengths: dict[str, set[int]] = {f: set() for f in names}
            for where, values in seen:
                for f in (names if where.startswith(table) else fields):
                    value = values.get(f)
                    if value is None:
                        problems.append(f"{where}.{f} is NULL")
                        continue
                    lengths[f].add(len(str(value)))
                    if not is_padded(value):
                        problems.append(f"{where}.{f} is unpadded")
            problems += [f"{entity}.{f} has lengths {sorted(n)}"
                         for f, n in lengths.items() if len(n) > 1]
        for qid, payload in conn.execute("SELECT id, payload FROM quarantine "
                                         "WHERE payload IS NOT NULL"):
            if not is_padded(json.loads(payload).get("sealed")):
                problems.append(f"quarantine {qid} is not padded")
    return problems


def store_file(config: Path) -> Path:
    """The SQLite file of a demo deployment's master store."""
    from hub.config import load

    url = load(config).database_url
    assert url.startswith("sqlite:///"), url
    return Path(url.removeprefix("sqlite:///"))
