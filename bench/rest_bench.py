"""Benchmark: reading N records through the REST connector's pagination vs a bare loop.

Both read the same local HTTP server in the same run: page-numbered pages of
--page-size records, encoded once up front so that the figures measure the client, not
the server. The baseline is ``requests.Session`` + ``response.json()`` page by page; the
connector adds auth, retries, flattening (nested ``address``) and batching. Prints
records/s (median of --repeat runs) and the Python heap peak of one more run
(tracemalloc), which stays flat with N: only one page and one batch are held.

    python bench/rest_bench.py --rows 100000 --page-size 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from connectors.base import StreamSpec
from connectors.rest import RestConnector, RestSettings

ROOT = Path(__file__).resolve().parent.parent


class Pages(ThreadingHTTPServer):
    daemon_threads = True
    pages: list[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Pages
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        page = int(parse_qs(urlsplit(self.path).query)["page"][0])
        body = self.server.pages[page - 1] if page <= len(self.server.pages) \
            else b'{"data": {"items": []}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving(rows: int, page_size: int) -> Iterator[Pages]:
    server = Pages(("127.0.0.1", 0), Handler)
    server.pages = [json.dumps({"data": {"items": [
        {"id": f"c{i:08d}", "name": f"Customer {i}", "email": f"c{i}@example.org",
         "address": {"street": "Hauptstraße 1", "city": "Köln"},
         "updated_at": "2024-05-01T10:00:00Z"}
        for i in range(start, min(start + page_size, rows))]}}).encode()
        for start in range(0, rows, page_size)]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def bare(server: Pages, page_size: int) -> int:
    count, page = 0, 1
    with requests.Session() as session:
        while True:
            body = session.get(f"{server.url}/page/customers", timeout=60,
                               params={"page": page, "per_page": page_size}).json()
            items = body["data"]["items"]
            count += len(items)
            if len(items) < page_size:
                return count
            page += 1


def connector(server: Pages, page_size: int) -> int:
    settings = RestSettings.model_validate({"base_url": server.url, "resources": {
        "/page/customers": {"records_path": "data.items",
                            "pagination": {"style": "page", "page_size": page_size}}}})
    with RestConnector(settings, system="bench", base_dir=ROOT) as conn:
        return sum(len(b.records) for b in conn.read(StreamSpec("/page/customers", ("id",)),
                                                     batch_size=5000))


def measure(run: Callable[[], int], repeat: int) -> tuple[float, int, float]:
    """(median records/s, records, heap peak MiB). The peak comes from one extra run:
    tracemalloc would slow the timed ones. The server shares the process, so its page
    encoding counts in both columns alike."""
    rates = []
    count = 0
    for _ in range(repeat):
        started = time.perf_counter()
        count = run()
        rates.append(count / (time.perf_counter() - started))
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(rates), count, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with serving(args.rows, args.page_size) as server:
        print(f"REST read, {args.rows:,} records, {args.page_size} per page, "
              f"median of {args.repeat}")
        for name, run in (("bare requests loop", lambda: bare(server, args.page_size)),
                          ("RestConnector.read", lambda: connector(server, args.page_size))):
            rate, count, peak = measure(run, args.repeat)
            assert count == args.rows, f"{name} read {count} records"
            print(f"  {name:<20} {rate:>10,.0f} records/s   heap peak {peak:6.1f} MiB")


if __name__ == "__main__":
    main()
