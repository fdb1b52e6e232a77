"""Benchmark: matching quality and speed on people with known duplicates.

Generates N person records for two systems (a CRM with German formats, a web shop with
ISO formats) where about a third of the people appear two or three times, corrupted the
way real back-office data is: typos, swapped first and last names, nicknames, umlauts
spelled out, moved addresses, new email addresses, missing fields, other phone and date
formats. Then runs Kontor's real inbound sync (map, match, merge, store) over both and
compares the golden records with the truth:

- precision / recall / F1 over record pairs, for automatic merges, and counting the pairs
  sent to the data steward's review queue as found (what a steward can still fix);
- time and records/s, beside the baseline of exact rules only (email, tax id), which is
  what matching was before fuzzy scoring;
- string similarity speed: rapidfuzz (batched and per pair) against jellyfish.

    python bench/matching_bench.py --rows 100000 --rows 1000000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("de_DE", "de_AT", "de_CH", "en_US", "fr_FR", "it_IT", "pl_PL", "tr_TR", "nl_NL")
NICK = {"Johannes": "Hans", "Josef": "Sepp", "Friedrich": "Fritz", "Wilhelm": "Willi",
        "Katharina": "Kathi", "Elisabeth": "Lisa", "Michael": "Micha", "Thomas": "Tom",
        "Alexander": "Alex", "Andreas": "Andi", "Stefanie": "Steffi", "Susanne": "Susi",
        "Gabriele": "Gabi", "Robert": "Bob", "William": "Bill", "Margarete": "Grete"}
COLUMNS = ["id", "first", "last", "email", "phone", "street", "zip", "city", "dob"]
CRM_MAPPING = """entity: customer
fields:
  first_name: first
  last_name: last
  email: {column: email, normalise: [email]}
  phone: {column: phone, normalise: [phone]}
  street: street
  postal_code: zip
  city: city
  date_of_birth: {column: dob, format: "%d.%m.%Y"}
"""
SHOP_MAPPING = CRM_MAPPING.replace('{column: dob, format: "%d.%m.%Y"}', "dob")


def _pools(seed: int) -> dict[str, list[str]]:
    from faker import Faker
    pools: dict[str, set[str]] = {"first": set(), "last": set(), "street": set()}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        for _ in range(3000):
            pools["first"].add(fake.first_name())
            pools["last"].add(fake.last_name())
        for _ in range(600):
            pools["street"].add(fake.street_name())
    shuffled = {k: sorted(v) for k, v in pools.items()}
    for items in shuffled.values():
        random.Random(seed).shuffle(items)
    return shuffled


_CUM: dict[int, list[float]] = {}


def _zipf(rng: random.Random, items: list[str]) -> str:
    """Skewed choice, shuffled pool: a few names are common, most are rare (like surnames)."""
    cum = _CUM.get(id(items))
    if cum is None:
        total, cum = 0.0, []
        for rank in range(len(items)):
            total += 1.0 / (rank + 30)
            cum.append(total)
        _CUM[id(items)] = cum
    return rng.choices(items, cum_weights=cum)[0]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i + 1:]
    if kind == 1:
        return text[:i] + rng.choice("aeinrst") + text[i:]
    if kind == 2:
        return text[:i] + rng.choice("aeinrst") + text[i + 1:]
    return text[:i - 1] + text[i] + text[i - 1] + text[i + 1:]


def _person(rng: random.Random, pools: dict[str, list[str]], pid: int) -> dict[str, str]:
    first, last = _zipf(rng, pools["first"]), _zipf(rng, pools["last"])
    zip_code = f"{rng.randrange(1067, 99999):05d}"
    return {"first": first, "last": last,
            "email": f"{first}.{last}.{pid}@{rng.choice(['web.de', 'gmx.de', 'mail.de'])}"
            .lower().replace(" ", ""),
            "phone": f"0{rng.choice(['30', '40', '89', '221', '69', '711'])} "
                     f"{rng.randrange(1000000, 9999999)}",
            "street": f"{rng.choice(pools['street'])} {rng.randrange(1, 200)}",
            "zip": zip_code, "city": f"Stadt{zip_code[:3]}",
            "dob": f"{rng.randrange(1940, 2006)}-{rng.randrange(1, 13):02d}-"
                   f"{rng.randrange(1, 29):02d}"}


def _corrupt(rng: random.Random, p: dict[str, str], pools: dict[str, list[str]]
             ) -> dict[str, str]:
    r = dict(p)
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        kind = rng.randrange(9)
        if kind == 0:
            field = rng.choice(("first", "last"))
            r[field] = _typo(rng, r[field])
        elif kind == 1:
            r["first"], r["last"] = r["last"], r["first"]
        elif kind == 2 and r["first"] in NICK:
            r["first"] = NICK[r["first"]]
        elif kind == 3:
            r["last"] = r["last"].replace("ü", "ue").replace("ö", "oe").replace("ä", "ae")
        elif kind == 4:  # moved
            moved = _person(rng, pools, 0)
            r.update(street=moved["street"], zip=moved["zip"], city=moved["city"])
        elif kind == 5:  # new email address
            r["email"] = f"{r['first'][:1]}{r['last']}{rng.randrange(100)}@posteo.de" \
                .lower().replace(" ", "")
        elif kind == 6:
            for field in rng.sample(("dob", "phone", "email", "street"), 2):
                r[field] = ""
        elif kind == 7 and r["phone"]:
            r["phone"] = "+49 " + r["phone"][1:]
        elif kind == 8 and r["street"]:
            r["street"] = r["street"].replace("straße", "str.").replace("Straße", "Str.")
    return r


def write_dataset(folder: Path, rows: int, seed: int = 11, rules_only: bool = False) -> Path:
    """Two CSV sources with known duplicates; returns truth.json's path."""
    rng = random.Random(seed)
    pools = _pools(seed)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "mappings").mkdir(exist_ok=True)
    (folder / "mappings" / "crm.yaml").write_text(CRM_MAPPING, encoding="utf-8")
    (folder / "mappings" / "shop.yaml").write_text(SHOP_MAPPING, encoding="utf-8")
    truth: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        files = {s: stack.enter_context(open(folder / "data" / f"{s}.csv", "w",
                                             encoding="utf-8")) for s in ("crm", "shop")}
        for fh in files.values():
            fh.write(";".join(COLUMNS) + "\n")
        written, pid = 0, 0
        while written < rows:
            pid += 1
            person = _person(rng, pools, pid)
            copies = 1 if rng.random() < 0.67 else rng.choice((2, 2, 3))
            for c in range(min(copies, rows - written)):
                record = person if c == 0 else _corrupt(rng, person, pools)
                system = "crm" if rng.random() < 0.6 else "shop"
                key = f"{system}-{written}"
                dob = record["dob"]
                if system == "crm" and dob:
                    y, m, d = dob.split("-")
                    dob = f"{d}.{m}.{y}"
                files[system].write(";".join([key, record["first"], record["last"],
                                              record["email"], record["phone"],
                                              record["street"], record["zip"],
                                              record["city"], dob]) + "\n")
                truth[key] = pid
                written += 1
    streams = "".join(f"""  {s}:
    connector: csv
    default_region: DE
    settings: {{directory: data, delimiter: ";"}}
    streams:
      people: {{entity: customer, direction: inbound, resource: {s}.csv, key: [id],
               mapping: mappings/{s}.yaml}}
""" for s in ("crm", "shop"))
    fuzzy = "    fuzzy: {enabled: false}\n" if rules_only else ""
    (folder / "kontor.yaml").write_text(
        f"database: kontor.db\nbatch_size: 5000\nmatching:\n  customer:\n"
        f"    rules: [[email]]\n{fuzzy}systems:\n{streams}", encoding="utf-8")
    path = folder / "truth.json"
    path.write_text(json.dumps(truth), encoding="utf-8")
    return path


def _pairs(groups: Counter[object]) -> int:
    return sum(n * (n - 1) // 2 for n in groups.values())


def evaluate(folder: Path) -> dict[str, float]:
    """Run the sync and score its golden records against the truth."""
    from sqlalchemy import select

    from hub.context import open_hub
    from hub.store import bulk
    from hub.store.matching_tables import ReviewPair
    from hub.store.tables import Xref
    from hub.sync.runner import run_sync

    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    hub = open_hub(folder / "kontor.yaml")
    start = time.perf_counter()
    result = run_sync(hub.deployment, hub.engine)
    seconds = time.perf_counter() - start
    with hub.engine.connect() as conn:
        golden = {r.source_key: r.golden_id for r in conn.execute(
            select(bulk.table_of(Xref).c.source_key, bulk.table_of(Xref).c.golden_id))}
        pairs = [(r.golden_a, r.golden_b) for r in conn.execute(select(
            bulk.table_of(ReviewPair).c.golden_a, bulk.table_of(ReviewPair).c.golden_b))]
    hub.close()
    scores = {"auto": _score(truth, golden)}
    parent = {g: g for g in golden.values()}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    scores["with_review"] = _score(truth, {k: find(g) for k, g in golden.items()})
    failed = sum(s.failed for s in result.streams)
    return {"rows": len(truth), "seconds": seconds, "failed": failed,
            "review_pairs": len(pairs), **{f"{k}_{m}": v for k, s in scores.items()
                                           for m, v in s.items()}}


def _score(truth: dict[str, int], golden: dict[str, str]) -> dict[str, float]:
    keys = [k for k in truth if k in golden]
    true_pairs = _pairs(Counter(truth[k] for k in keys))
    predicted = _pairs(Counter(golden[k] for k in keys))
    hits = _pairs(Counter((golden[k], truth[k]) for k in keys))
    precision = hits / predicted if predicted else 1.0
    recall = hits / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def similarity_speed(pairs: int = 1_000_000) -> dict[str, float]:
    """Seconds per million Jaro-Winkler comparisons, by library and calling style."""
    from rapidfuzz.distance import JaroWinkler
    from rapidfuzz.process import cpdist
    rng = random.Random(3)
    words = ["".join(rng.choice("abcdefghijklmnoprstuvw") for _ in range(rng.randrange(4, 12)))
             for _ in range(2000)]
    a = [rng.choice(words) for _ in range(pairs)]
    b = [rng.choice(words) for _ in range(pairs)]
    out: dict[str, float] = {}
    t = time.perf_counter()
    cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=1)
    out["rapidfuzz cpdist (batched, C++)"] = time.perf_counter() - t
    t = time.perf_counter()
    for x, y in zip(a, b):
        JaroWinkler.normalized_similarity(x, y)
    out["rapidfuzz per pair"] = time.perf_counter() - t
    try:
        import jellyfish
    except ImportError:
        return out
    t = time.perf_counter()
    for x, y in zip(a, b):
        jellyfish.jaro_winkler_similarity(x, y)
    out["jellyfish per pair"] = time.perf_counter() - t
    return {k: v * 1_000_000 / pairs for k, v in out.items()}


def _child(kind: str, rows: int) -> dict[str, float]:
    """One measurement in a fresh process and folder."""
    with tempfile.TemporaryDirectory(prefix="kontor-match-") as tmp:
        env = {**os.environ, "KONTOR_MASTER_KEY": os.environ.get(
            "KONTOR_MASTER_KEY", "YmVuY2gtb25seS1tYXN0ZXIta2V5LW5vdC1zZWNyZXQ=")}
        out = subprocess.run([sys.executable, __file__, "--child", kind, "--rows", str(rows),
                              "--folder", tmp], check=True, capture_output=True, text=True,
                             cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--baseline-rows", type=int, default=100_000,
                        help="rows for the rules-only baseline (0: skip)")
    parser.add_argument("--child", choices=["fuzzy", "rules"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        write_dataset(args.folder, args.rows[0], rules_only=args.child == "rules")
        print(json.dumps(evaluate(args.folder)))
        return
    sizes = args.rows or [100_000]
    runs = [("rules only (baseline)", _child("rules", args.baseline_rows))] \
        if args.baseline_rows else []
    runs += [("rules + fuzzy (Kontor)", _child("fuzzy", n)) for n in sizes]
    print("matching people with known duplicates (two sources, real inbound sync, SQLite)")
    print(f"{'run':<24}{'rows':>10}{'seconds':>9}{'rec/s':>8}{'auto P':>8}{'R':>7}"
          f"{'F1':>7}{'+review R':>10}{'F1':>7}{'pairs':>8}")
    for label, r in runs:
        print(f"{label:<24}{r['rows']:>10,}{r['seconds']:>9.1f}{r['rows'] / r['seconds']:>8,.0f}"
              f"{r['auto_precision']:>8.3f}{r['auto_recall']:>7.3f}{r['auto_f1']:>7.3f}"
              f"{r['with_review_recall']:>10.3f}{r['with_review_f1']:>7.3f}"
              f"{r['review_pairs']:>8,}")
    fuzzy = [(r["rows"], r["seconds"]) for label, r in runs if "fuzzy" in label]
    if len(fuzzy) > 1:
        (n0, s0), (n1, s1) = fuzzy[0], fuzzy[-1]
        print(f"growth: {n1 / n0:.0f}x the rows took {s1 / s0:.1f}x the time "
              f"(linear would be {n1 / n0:.0f}x)")
    print("Jaro-Winkler, seconds per million pairs:")
    for name, seconds in similarity_speed().items():
        print(f"  {name:<34}{seconds:>6.2f}")


if __name__ == "__main__":
    main()
