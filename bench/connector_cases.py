"""The measurements of ``bench/connectors_bench.py``: each connector beside its bare library.

``prepare_*`` run in the parent (writing the test data is not measured); every function in
``CASES`` runs in a fresh child process and returns ``bench.measure.result``. Writes are
timed per batch the way the hub sends them (``BATCH`` records per ``write`` call).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench.datagen import HEADER, customer_rows, write_customers
from bench.measure import result

BATCH = 5000
KEY = "KundenNr"
WIDTHS = [8, 10, 14, 28, 16, 20, 5, 20, 2, 10, 1, 4, 16]
SLICES = [(sum(WIDTHS[:i]), sum(WIDTHS[:i + 1])) for i in range(len(WIDTHS))]
Case = Callable[[Path, int, dict[str, str]], dict[str, float]]


def _spec(resource: str) -> Any:
    from connectors.base import StreamSpec

    return StreamSpec(resource, (KEY,))


def _batches(rows: int) -> Iterator[list[dict[str, str]]]:
    batch: list[dict[str, str]] = []
    for row in customer_rows(rows):
        batch.append(dict(zip(HEADER, row)))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _timed_reads(connector: Any, resource: str) -> dict[str, float]:
    start = time.perf_counter()
    count = sum(len(b.records) for b in connector.read(_spec(resource), batch_size=BATCH))
    return result(count, time.perf_counter() - start)


def _timed_writes(connector: Any, resource: str, rows: int) -> dict[str, float]:
    """Only the write calls are timed: building the records is the caller's work."""
    spent, written = 0.0, 0
    for batch in _batches(rows):
        start = time.perf_counter()
        outcome = connector.write(_spec(resource), batch)
        spent += time.perf_counter() - start
        written += outcome.written
    return result(written, spent)


# -- test data (parent process) ------------------------------------------------------------

def prepare_files(folder: Path, rows: int, kinds: set[str]) -> None:
    """The same customers as CSV, fixed-width and/or XML (``kinds``)."""
    if "csv" in kinds:
        write_customers(folder / "kunden.csv", rows)
    if "fixedwidth" in kinds:
        with open(folder / "KUNDEN.TXT", "w", encoding="utf-8") as fh:
            fh.writelines("".join(v.ljust(w) for v, w in zip(row, WIDTHS)) + "\n"
                          for row in customer_rows(rows))
    if "xml" in kinds:
        with open(folder / "kunden.xml", "w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<export><kunden>\n')
            fh.writelines("<kunde>" + "".join(f"<{h}>{escape(v)}</{h}>"
                                              for h, v in zip(HEADER, row))
                          + "</kunde>\n" for row in customer_rows(rows))
            fh.write("</kunden></export>\n")


def create_table(url: str, name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    sa.Table(name, sa.MetaData(), *(sa.Column(h, sa.String(64), primary_key=h == KEY)
                                     for h in HEADER)).create(engine)
    engine.dispose()


def fill_table(url: str, name: str, rows: int) -> None:
    """Load the customers with the fastest path each database has (not measured)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f'COPY "{name}" FROM STDIN') as copy:  # type: ignore[attr-defined]
                for row in customer_rows(rows):
                    copy.write_row(row)
        else:
            cur.executemany(  # sqlite3 takes an iterator: the rows never sit in memory
                f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(HEADER))})',
                customer_rows(rows))  # type: ignore[arg-type]
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def drop_table(url: str, name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    sa.Table(name, sa.MetaData()).drop(engine, checkfirst=True)
    engine.dispose()


# -- files -------------------------------------------------------------------------------

def _csv(folder: Path) -> Any:
    from connectors.csv.connector import CsvConnector, CsvSettings

    return CsvConnector(CsvSettings(directory=str(folder), delimiter=";"), system="bench",
                        base_dir=folder)


def csv_read_baseline(folder: Path, rows: int, opts: dict[str, str]) -> dict[str, float]:
    import csv

    start = time.perf_counter()
    with open(folder / "kunden.csv", encoding="utf-8", newline="") as fh:
        count = sum(1 for _ in csv.reader(fh, delimiter=";")) - 1
    return result(count, time.perf_counter() - start)


def csv_read_pandas(folder: Path, rows: int, opts: dict[str, str]) -> dict[str, float]:
    import pandas as pd

    start, count = time.perf_counter(), 0
    for chunk in pd.read_csv(folder / "kunden.csv", sep=";", dtype=str, chunksize=BATCH,
                             keep_default_na=False):
        count += len(chunk.to_dict("records"))  # records, as a connector hands them out
    return result(count, time.perf_counter() - start)


def csv_write_baseline(folder: Path, rows: int, opts: dict[str, str]) -> dict[str, float]:
    import csv

    start = time.perf_counter()
    with open(folder / "out.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(customer_rows(rows))
    return result(rows, time.perf_counter() - start)


def _fixed(folder: Path) -> Any:
    from connectors.fixedwidth import FixedWidthConnector
    from connectors.fixedwidth.layout import FixedWidthSettings

    settings = FixedWidthSettings.model_validate(
        {"directory": str(folder), "names": HEADER, "widths": WIDTHS})
    return FixedWidthConnector(settings, system="bench", base_dir=folder)


def fixed_read_baseline(folder: Path, rows: int, opts: dict[str, str]) -> dict[str, float]:
    start, count = time.perf_counter(), 0
    with open(folder / "KUNDEN.TXT", encoding="utf-8") as fh:
        for line in fh:
            [line[a:b].strip() for a, b in SLICES]
            count += 1
    return result(count, time.perf_counter() - start)


def fixed_write_baseline(folder: Path, rows: int, opts: dict[str, str]) -> dict[str, float]:
    start = time.perf_counter()
    with open(folder / "OUT.TXT", "w", encoding="utf-8") as fh:
        fh.writelines("".join(v.ljust(w) for v, w in zip(row, WIDTHS)) + "\n"
                      for row in customer_rows(rows))
    return result(rows, time.perf_counter() - start)


def xml_read_baseline(folder: Path, rows: int, opts: dict[str, str]) -> dict[str, float]:
    from lxml import etree

    start, count = time.perf_counter(), 0
    for _, elem in etree.iterparse(str(folder / "kunden.xml"), events=("end",), tag="kunde"):
        {child.tag: child.text for child in elem}
        count += 1
        elem.clear(keep_tail=True)
        while elem.getprevious() is not None:
            del elem.getparent()[0]
    return result(count, time.perf_counter() - start)


def _xml(folder: Path) -> Any:
    from connectors.xml.connector import XmlConnector, XmlSettings

    return XmlConnector(XmlSettings(directory=str(folder), record_path="kunden/kunde"),
                        system="bench", base_dir=folder)


def xml_parse_defusedxml(folder: Path, rows: int, opts: dict[str, str]) -> dict[str, float]:
    """The stdlib parser behind defusedxml, with the same flattening as the connector."""
    import xml.etree.ElementTree as ET

    import defusedxml.ElementTree as DET

    from connectors.xml.records import flatten

    parser = DET.DefusedXMLParser(target=ET.TreeBuilder(), forbid_dtd=False,
                                  forbid_entities=True, forbid_external=True)
    start, count, stack = time.perf_counter(), 0, []
    for event, elem in ET.iterparse(folder / "kunden.xml", events=("start", "end"),
                                    parser=parser):
        if event == "start":
            stack.append(elem)
            continue
        stack.pop()
        if elem.tag == "kunde":
            flatten(elem)  # works on stdlib elements too
            count += 1
            elem.clear()
            stack[-1].remove(elem)
    return result(count, time.perf_counter() - start)


def xml_parse_xmltodict(folder: Path, rows: int, opts: dict[str, str]) -> dict[str, float]:
    import xmltodict

    seen = [0]

    def record(_path: Any, _item: Any) -> bool:
        seen[0] += 1
        return True

    start = time.perf_counter()
    with open(folder / "kunden.xml", "rb") as fh:
        xmltodict.parse(fh, item_depth=3, item_callback=record, disable_entities=True)
    return result(seen[0], time.perf_counter() - start)


# -- SQL ---------------------------------------------------------------------------------

def _sql(folder: Path, opts: dict[str, str]) -> Any:
    from connectors.sql import SqlConnector, SqlSettings

    return SqlConnector(SqlSettings(url=opts["url"]), system="bench", base_dir=folder)


def sql_read_baseline(folder: Path, rows: int, opts: dict[str, str]) -> dict[str, float]:
    import sqlalchemy as sa

    engine = sa.create_engine(opts["url"])
    raw = engine.raw_connection()
    start, count = time.perf_counter(), 0
    query = f'SELECT * FROM "{opts["table"]}" ORDER BY "{KEY}"'
    if engine.dialect.name == "postgresql":  # a server-side cursor, like the connector's
        cur = raw.driver_connection.cursor(name="bench")  # type: ignore[union-attr]
        cur.itersize = BATCH
    else:
        cur = raw.cursor()
    cur.execute(query)
    while chunk := cur.fetchmany(BATCH):
        count += len(chunk)
    elapsed = time.perf_counter() - start
    raw.close()
    return result(count, elapsed)


def sql_write_baseline(folder: Path, rows: int, opts: dict[str, str]) -> dict[str, float]:
    """Plain INSERTs (no upsert), one executemany and commit per batch."""
    import sqlalchemy as sa

    engine = sa.create_engine(opts["url"])
    raw = engine.raw_connection()
    mark = "%s" if engine.dialect.name == "postgresql" else "?"
    sql = f'INSERT INTO "{opts["table"]}" VALUES ({", ".join([mark] * len(HEADER))})'
    cur, spent = raw.cursor(), 0.0
    batch: list[list[str]] = []
    for row in customer_rows(rows):
        batch.append(row)
        if len(batch) == BATCH:
            start = time.perf_counter()
            cur.executemany(sql, batch)
            raw.commit()
            spent += time.perf_counter() - start
            batch = []
    raw.close()
    return result(rows, spent)


CASES: dict[str, Case] = {
    "csv-read/baseline": csv_read_baseline,
    "csv-read/pandas": csv_read_pandas,
    "csv-read/kontor": lambda f, n, o: _timed_reads(_csv(f), "kunden.csv"),
    "csv-write/baseline": csv_write_baseline,
    "csv-write/kontor": lambda f, n, o: _timed_writes(_csv(f), "out.csv", n),
    "fixedwidth-read/baseline": fixed_read_baseline,
    "fixedwidth-read/kontor": lambda f, n, o: _timed_reads(_fixed(f), "KUNDEN.TXT"),
    "fixedwidth-write/baseline": fixed_write_baseline,
    "fixedwidth-write/kontor": lambda f, n, o: _timed_writes(_fixed(f), "OUT.TXT", n),
    "xml-read/baseline": xml_read_baseline,
    "xml-read/kontor": lambda f, n, o: _timed_reads(_xml(f), "kunden.xml"),
    "xml-parsers/defusedxml": xml_parse_defusedxml,
    "xml-parsers/xmltodict": xml_parse_xmltodict,
    "xml-parsers/lxml (kontor)": lambda f, n, o: _timed_reads(_xml(f), "kunden.xml"),
    "sql-read/baseline": sql_read_baseline,
    "sql-read/kontor": lambda f, n, o: _timed_reads(_sql(f, o), o["table"]),
    "sql-write/baseline": sql_write_baseline,
    "sql-write/kontor": lambda f, n, o: _timed_writes(_sql(f, o), o["table"], n),
}
