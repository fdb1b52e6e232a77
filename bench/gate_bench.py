"""Benchmark: the privacy gate's cost on an outbound sync (golden customers -> CSV).

Imports N customers once, then times only the outbound stream, three ways, median of
--repeat runs each:
  - baseline: the gate bypassed (values go straight to the mapping);
  - allow-all: the gate with one rule allowing everything;
  - policy: a realistic policy (conditions, masking, pseudonymising, generalising, denials).

    python bench/gate_bench.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = """
  export:
    connector: csv
    settings: {directory: out}
    streams:
      customers: {entity: customer, direction: outbound, resource: customers.csv,
                  key: [customer_number], mapping: mappings/export.yaml}
"""
EXPORT_MAPPING = """entity: customer
fields:
  customer_number: customer_number
  first_name: first_name
  last_name: last_name
  email: email
  phone: phone
  postal_code: postal_code
  city: city
  country: country
  date_of_birth: date_of_birth
  status: status
"""
ALLOW_ALL = "rules:\n  - {id: all, to: [export], category: user, action: allow}\n"
POLICY = """rules:
  - {id: key, to: [export], field: customer_number, action: allow}
  - {id: names, to: [export], category: user.name, when: {marketing_consent: true},
     action: allow}
  - {id: first-masked, to: [export], field: first_name, action: mask,
     params: {keep_first: 1, keep_last: 0}}
  - {id: email, to: [export], category: user.contact.email, action: pseudonymise}
  - {id: phone, to: [export], category: user.contact.phone_number, action: deny}
  - {id: region, to: [export], category: user.contact.address.postal_code,
     action: generalise, params: {keep: 2}}
  - {id: place, to: [export], category: user.contact.address, action: allow}
  - {id: year, to: [export], category: user.demographic.date_of_birth, action: generalise}
  - {id: status, to: [export], category: user.account, action: allow}
"""


def prepare(folder: Path, rows: int) -> Path:
    from bench.datagen import write_deployment
    from hub.context import open_hub
    from hub.sync.runner import run_sync

    config = write_deployment(folder, rows)  # with its keyring
    (folder / "mappings" / "export.yaml").write_text(EXPORT_MAPPING, encoding="utf-8")
    (folder / "out").mkdir()
    (folder / "policies").mkdir()
    config.write_text(config.read_text(encoding="utf-8") + TARGET, encoding="utf-8")
    hub = open_hub(config)
    run_sync(hub.deployment, hub.engine, systems=["crm"])
    hub.close()
    return config


def outbound_rate(template: Path, variant: str) -> float:
    from hub.context import open_hub
    from hub.sync.runner import run_sync
    from policies.gate import PrivacyGate

    with tempfile.TemporaryDirectory(prefix="kontor-gate-") as tmp:
        folder = Path(tmp) / "d"
        shutil.copytree(template, folder)
        policy = {"baseline": ALLOW_ALL, "allow-all": ALLOW_ALL, "policy": POLICY}[variant]
        (folder / "policies" / "p.yaml").write_text(policy, encoding="utf-8")
        original = PrivacyGate.release
        if variant == "baseline":
            PrivacyGate.release = lambda self, entity, values, dest, **kw: (dict(values), [])  # type: ignore[method-assign]
        try:
            hub = open_hub(folder / "kontor.yaml")
            start = time.perf_counter()
            result = run_sync(hub.deployment, hub.engine, systems=["export"])
            elapsed = time.perf_counter() - start
            hub.close()
        finally:
            PrivacyGate.release = original  # type: ignore[method-assign]
    return result.streams[0].read / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kontor-gate-store-") as tmp:
        template = Path(tmp) / "template"
        prepare(template, args.rows)
        rates: dict[str, list[float]] = {"baseline": [], "allow-all": [], "policy": []}
        for _ in range(args.repeat):
            for variant, runs in rates.items():
                runs.append(outbound_rate(template, variant))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    print(f"outbound sync of {args.rows:,} golden customers to CSV "
          f"(median of {args.repeat} runs)")
    print(f"{'variant':<40}{'records/s':>12}{'vs baseline':>14}")
    labels = {"baseline": "baseline: gate bypassed",
              "allow-all": "gate, one allow-all rule",
              "policy": "gate, realistic policy (9 rules)"}
    for variant, label in labels.items():
        ratio = medians[variant] / medians["baseline"]
        print(f"{label:<40}{medians[variant]:>12,.0f}{ratio:>13.2f}x")
    cost = 1 - medians["policy"] / medians["baseline"]
    print(f"gate cost with the realistic policy: {cost:.0%} of outbound throughput")


if __name__ == "__main__":
    main()
