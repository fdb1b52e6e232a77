"""Benchmark: writing XML with xmltodict.unparse beside lxml, and the XML connector itself.

Why it exists: the XML connector's writer had to pick a library (issue #15, point 8). Each
case writes the same records (8 fields of the customer test data, with "&" and "<" to
escape) as an indented document export/customers/customer, streaming: records come from
a generator and go straight to the file, so memory must not grow with the file. Every
measurement runs in a fresh process (``bench/measure.py``), so its peak memory (VmHWM)
is its own; runs are interleaved and the median is shown, by the clock and by the CPU time
of the process (steadier on a busy machine; it leaves out waiting for the disk).

    python bench/xml_write_bench.py                    # 100,000 records, median of 3
    python bench/xml_write_bench.py --rows 400000 --repeat 1   # peak memory stays put
    python bench/xml_write_bench.py --only kontor      # only the connector's cases
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Imported after the line above makes the repo importable when run as a script.
from bench.datagen import HEADER, customer_rows
from bench.measure import in_fresh_process, medians, report, result

FIELDS = HEADER[:8]  # KundenNr, Vorname, Nachname, E-Mail, Telefon, Strasse, PLZ, Ort
BATCH = 5000
INDENT = "  "
Case = Callable[[Path, int], dict[str, float]]


class Clock:
    """Wall-clock and CPU seconds of what runs between ``start`` and ``stop``."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self._wall = self._cpu = 0.0

    def start(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu

    def result(self, rows: int) -> dict[str, float]:
        return {**result(rows, self.wall), "cpu": self.cpu}


def records(rows: int) -> Iterator[dict[str, str]]:
    """``rows`` records of 8 fields; a 5,000-record pattern repeated with unique keys."""
    base = [dict(zip(FIELDS, row)) for row in customer_rows(min(rows, BATCH))]
    for n in range(rows):
        record = dict(base[n % len(base)])
        record["KundenNr"] = f"K{100000 + n}"
        record["Strasse"] += " & <Hof>"
        yield record


def batches(rows: int) -> Iterator[list[dict[str, str]]]:
    batch: list[dict[str, str]] = []
    for record in records(rows):
        batch.append(record)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


# -- the cases (each in a fresh child process) -------------------------------------------

def xmltodict_unparse(folder: Path, rows: int) -> dict[str, float]:
    """xmltodict streams a generator given as an element's value, record by record."""
    import xmltodict

    clock = Clock()
    clock.start()
    with open(folder / "out.xml", "wb") as fh:
        xmltodict.unparse({"export": {"customers": {"customer": records(rows)}}}, output=fh,
                          encoding="utf-8", pretty=True, indent=INDENT)
    clock.stop()
    return clock.result(rows)


def lxml_incremental(folder: Path, rows: int) -> dict[str, float]:
    """lxml's incremental writer, element by element: how the connector writes."""
    from lxml import etree

    clock = Clock()
    clock.start()
    with etree.xmlfile(str(folder / "out.xml"), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("export"):
            xf.write("\n" + INDENT)
            with xf.element("customers"):
                for record in records(rows):
                    xf.write("\n" + INDENT * 2)
                    with xf.element("customer"):
                        for name, value in record.items():
                            xf.write("\n" + INDENT * 3)
                            with xf.element(name):
                                xf.write(value)
                        xf.write("\n" + INDENT * 2)
                xf.write("\n" + INDENT)
            xf.write("\n")
    clock.stop()
    return clock.result(rows)


def lxml_elements(folder: Path, rows: int) -> dict[str, float]:
    """lxml, one element tree built per record and written whole."""
    from lxml import etree

    clock = Clock()
    clock.start()
    with etree.xmlfile(str(folder / "out.xml"), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("export"):
            xf.write("\n" + INDENT)
            with xf.element("customers"):
                for record in records(rows):
                    elem = etree.Element("customer")
                    for name, value in record.items():
                        etree.SubElement(elem, name).text = value
                    etree.indent(elem, space=INDENT, level=2)
                    xf.write("\n" + INDENT * 2)
                    xf.write(elem)
                xf.write("\n" + INDENT)
            xf.write("\n")
    clock.stop()
    return clock.result(rows)


def _connector(folder: Path) -> Any:
    from connectors.xml.connector import XmlConnector, XmlSettings

    settings = XmlSettings(directory=str(folder), record_path="/export/customers/customer")
    return XmlConnector(settings, system="bench", base_dir=folder)


def _spec() -> Any:
    from connectors.base import StreamSpec

    return StreamSpec("out.xml", ("KundenNr",))


def kontor_write(folder: Path, rows: int) -> dict[str, float]:
    """The connector, batches of 5,000 new keys as the hub sends them (checks included).
    Only the write calls are timed."""
    connector, clock = _connector(folder), Clock()
    for batch in batches(rows):
        clock.start()
        connector.write(_spec(), batch)
        clock.stop()
    return clock.result(rows)


def kontor_rewrite(folder: Path, rows: int) -> dict[str, float]:
    """A fresh connector updates 5,000 keys spread over a file of ``rows`` records: the
    whole file is parsed and written again. Records/s counts the file's records."""
    connector = _connector(folder)
    for batch in batches(rows):  # the file to update (not timed)
        connector.write(_spec(), batch)
    step = max(rows // BATCH, 1)
    updates = [{**record, "Ort": "Neustadt"} for n, record in enumerate(records(rows))
               if n % step == 0]
    clock = Clock()
    clock.start()
    _connector(folder).write(_spec(), updates)
    clock.stop()
    return clock.result(rows)


CASES: dict[str, Case] = {
    "xmltodict.unparse (streamed generator)": xmltodict_unparse,
    "lxml etree.xmlfile, element by element": lxml_incremental,
    "lxml etree.xmlfile, an element tree per record": lxml_elements,
    "kontor XmlConnector.write (lxml), new keys": kontor_write,
    "kontor XmlConnector.write, 5,000 updates (rewrite)": kontor_rewrite,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="run the cases whose name holds this text")
    parser.add_argument("--child")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.child:
        report(CASES[args.child](Path(args.folder), args.rows))
        return
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in CASES
                                               if not args.only or args.only in name}
    with tempfile.TemporaryDirectory(prefix="kontor-xml-bench-") as tmp:
        folder = Path(tmp)
        for _ in range(args.repeat):  # interleaved, so a busy moment hits every case alike
            for name, measured in runs.items():
                (folder / "out.xml").unlink(missing_ok=True)
                measured.append(in_fresh_process(
                    __file__, name, ["--rows", str(args.rows), "--folder", str(folder)]))
    print(f"\nwriting XML: {args.rows:,} records of {len(FIELDS)} fields, "
          f"median of {args.repeat}")
    print(f"{'measurement':<52}{'records/s':>12}{'per CPU s':>12}{'peak MiB':>10}")
    rates = {}
    for name, measured in runs.items():
        rate, peak = medians(measured)
        rates[name] = statistics.median(r["rows"] / r["cpu"] for r in measured)
        print(f"{name:<52}{rate:>12,.0f}{rates[name]:>12,.0f}{peak:>10.0f}")
    lxml, xmltodict = "lxml etree.xmlfile, element by element", \
        "xmltodict.unparse (streamed generator)"
    if lxml in rates and xmltodict in rates:
        print(f"\nlxml (element by element) writes {rates[lxml] / rates[xmltodict]:.1f}x as "
              "many records per CPU second as xmltodict.unparse")


if __name__ == "__main__":
    main()
