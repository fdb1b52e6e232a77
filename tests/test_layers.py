"""Layers that stay layered: the import graph of hub, connectors, mappings and policies.

DESIGN.md "Layers" and "Rooms", held against the code as it stands. Every ``.py`` file of
the four packages is parsed with ``ast``; every ``import x`` and ``from x import y`` that
names a module of theirs is an arrow, wherever it stands: at the top, inside a function
(a lazy import is still a dependency) or under ``if TYPE_CHECKING:`` (so is a type).

A package's ``__init__`` is its face, not a hub that everything passes through:
``from pkg import sub`` is an arrow to ``pkg/sub.py``, ``from pkg import name`` is an arrow
to the submodule that ``pkg/__init__.py`` takes ``name`` from, and importing ``pkg.sub``
draws no arrow to ``pkg/__init__.py`` (Python runs it first, but a face that only hands
names on cannot close a loop).

The contract:

1. no module imports itself back, through any chain of modules (no cycles);
2. no part (a row of ``LAYERS``: a folder such as ``hub/sync/`` or one file such as
   ``hub/config.py``) imports itself back through other parts either: a helper that two
   parts need goes down to the lower one, never sideways;
3. layers point one way: a module imports only from its own layer or below; and use
   cases stand side by side: one does not import another (they share the golden record
   layer below them instead), except the scheduler, whose job is to run syncs;
4. rooms: ``connectors/`` imports only ``connectors/`` and ``hub/errors.py``; the rest
   reaches connectors only through ``connectors/base.py`` (the interface; plugins are
   found through entry points); ``mappings/`` and ``policies/`` import nothing of the
   store;
5. the dashboard (``hub/web/``) calls the API's services, never a router of the API: only
   the app assembly, ``hub/api/app.py``, sees both.
6. every file has a place in ``LAYERS``, and every row of it still names a file.

``KNOWN_VIOLATIONS`` lists the arrows that break it today, each with its reason. The test
tolerates them and fails as soon as one of them is gone (or breaks no rule any more), so
the list can only shrink.
"""

from __future__ import annotations

import ast
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "connectors", "mappings", "policies")

FACE, USE_CASES, GOLDEN, SERVICES, LEAVES = 5, 4, 3, 2, 1
LAYER_NAMES = {FACE: "face", USE_CASES: "use cases", GOLDEN: "golden record",
               SERVICES: "services", LEAVES: "leaves"}

# Where each module lives, top down. A row ending in "/" places that folder and everything
# under it; any other row places one file. The longest row that matches a file places it,
# and each row is also one *part* for the cycle check between parts (contract 2).
LAYERS: dict[str, int] = {
    # -- 5. face: how people and programs reach the hub -------------------------------------
    "hub/cli/": FACE,                   # `kontor ...` commands
    "hub/api/": FACE,                   # REST API and SCIM: routers, and the API's services
    #                                     (deps, disclosure, problems, security, services,
    #                                     writes, ...) that the dashboard calls too
    "hub/api/app.py": FACE,             # the app assembly: API routers + dashboard routers
    "hub/web/": FACE,                   # the dashboard (/ui/)
    # -- 4. use cases: what the faces ask for ------------------------------------------------
    "hub/sync/": USE_CASES,             # runs, inbound, outbound, leases, plan, retry
    "hub/survivorship/": USE_CASES,     # stewardship: merge, unmerge, override, review queue
    "hub/subject_rights.py": USE_CASES,  # subject rights: access (Art. 15), erasure (Art. 17)
    "hub/jobs.py": USE_CASES,           # the scheduler: runs syncs and audit checkpoints
    # -- 3. the golden record: the single write path every use case calls --------------------
    "hub/golden/": GOLDEN,              # one unit of work per change (docs/architecture.md)
    "hub/survivorship/rules.py": GOLDEN,  # merge primitive: which source wins, per field
    "hub/survivorship/choose.py": GOLDEN,  # the rules' choice among candidate values
    "hub/survivorship/defaults.py": GOLDEN,  # the default rule per data category
    "hub/survivorship/sources.py": GOLDEN,  # every source record's latest values (xrefs)
    # -- 2. services ---------------------------------------------------------------------------
    "hub/store/": SERVICES,             # engine, tables, bulk helpers, sealing, outbox table
    "hub/store/migrations/": SERVICES,  # Alembic: gathers every table's metadata (env.py)
    "hub/matching/": SERVICES,          # match keys, scoring, the matcher, dedupe
    "hub/audit/": SERVICES,             # the hash-chained trail, signing, verify, queries
    "hub/auth/": SERVICES,              # API tokens and roles
    "hub/quality/": SERVICES,           # data-quality report
    "hub/context.py": SERVICES,         # open_hub: a deployment with its store, migrated
    "hub/demo/": SERVICES,              # the demo back office that `kontor demo` writes
    "hub/testing/": SERVICES,           # the connector conformance kit (a pytest plugin)
    # -- 1. leaves: configuration, vocabulary, engines that know nothing of the store ------
    "hub/__init__.py": LEAVES,          # the version
    "hub/config.py": LEAVES,            # every configuration model, job schedules included
    "hub/matching/settings.py": LEAVES,  # match & merge configuration models (kontor.yaml)
    "hub/errors.py": LEAVES,
    "hub/taxonomy.py": LEAVES,          # data categories (Fides keys)
    "hub/canonical.py": LEAVES,         # the canonical customer and employee models
    "hub/records.py": LEAVES,           # a record in flight; JSON for hashes and history
    "hub/registry.py": LEAVES,          # connector kinds, found through entry points
    "hub/secrets.py": LEAVES,           # ${env:...} and ${file:...} references
    "hub/yamlfile.py": LEAVES,          # YAML with line numbers for error messages
    "hub/faults.py": LEAVES,            # fault-injection points of the crash tests
    "hub/logs.py": LEAVES,              # logging setup
    "mappings/": LEAVES,                # the mapping engine, transforms, normalisers
    "policies/": LEAVES,                # the privacy engine and policy packs
    "connectors/base.py": LEAVES,       # the connector interface
    "connectors/": LEAVES,              # the connectors: plugins, a room apart (contract 4)
}

# Use cases that may call another use case: the scheduler starts sync runs.
RUNS_OTHER_USE_CASES = {"hub/jobs.py"}

# Arrows that break the contract today, tolerated until they are gone: (importer, imported).
# The test fails when one of them no longer exists or no longer breaks a rule: then delete
# its line. Never add one without a reason and someone removing it.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
}


# -- the import graph -------------------------------------------------------------------------

@dataclass(frozen=True)
class Graph:
    files: tuple[str, ...]                       # "hub/config.py", ...
    arrows: frozenset[tuple[str, str]]           # (importer, imported), both files
    lines: dict[tuple[str, str], int]            # where each arrow is first drawn


def _dotted(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, module: str, is_package: bool
             ) -> Iterator[tuple[str, str | None, int]]:
    """(module imported, name taken from it or None, line) for every import in a file."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            for alias in node.names:
                yield name, alias.name, node.lineno


@cache
def graph() -> Graph:
    by_name: dict[str, str] = {}
    trees: dict[str, ast.AST] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            by_name[_dotted(rel)] = rel
            trees[rel] = ast.parse(path.read_text(encoding="utf-8"), rel)

    def file_of(name: str) -> str | None:
        """The file that importing ``name`` runs (its nearest module of ours), or None."""
        while name:
            if name in by_name:
                return by_name[name]
            name = name.rpartition(".")[0]
        return None

    # What each package face hands on: {package file: {name: the file that defines it}}.
    handed_on: dict[str, dict[str, str]] = defaultdict(dict)
    for rel, tree in trees.items():
        if rel.endswith("/__init__.py"):
            for name, taken, _ in _imports(tree, _dotted(rel), True):
                target = file_of(name)
                if taken and target and target != rel:
                    handed_on[rel][taken] = by_name.get(f"{name}.{taken}", target)

    arrows: set[tuple[str, str]] = set()
    lines: dict[tuple[str, str], int] = {}
    for rel, tree in trees.items():
        for name, taken, line in _imports(tree, _dotted(rel), rel.endswith("/__init__.py")):
            target = file_of(name)
            if target is None:
                continue
            if taken is not None:
                if f"{name}.{taken}" in by_name:          # from pkg import submodule
                    target = by_name[f"{name}.{taken}"]
                elif taken in handed_on.get(target, {}):  # a name the face hands on
                    target = handed_on[target][taken]
            if target != rel:
                arrows.add((rel, target))
                lines.setdefault((rel, target), line)
    return Graph(tuple(sorted(trees)), frozenset(arrows), lines)


# -- placing files ----------------------------------------------------------------------------

def part_of(file: str) -> str | None:
    """The LAYERS row that places a file: the longest one that matches it."""
    rows = [row for row in LAYERS
            if file == row or (row.endswith("/") and file.startswith(row))]
    return max(rows, key=len) if rows else None


def layer_of(file: str) -> int:
    part = part_of(file)
    assert part is not None, file
    return LAYERS[part]


@cache
def _is_router(file: str) -> bool:
    """An API module that builds an APIRouter: part of the API's HTTP face only."""
    tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
    return any(isinstance(n, ast.Call) and "APIRouter" in (getattr(n.func, "id", None),
                                                           getattr(n.func, "attr", None))
               for n in ast.walk(tree))


# -- the rules --------------------------------------------------------------------------------

def _room_problem(a: str, b: str) -> str | None:
    """Why the arrow a -> b breaks DESIGN.md "Rooms", or None."""
    if a.startswith("connectors/") and not (b.startswith("connectors/")
                                            or b == "hub/errors.py"):
        return "a connector imports only connectors/ and hub/errors.py"
    if (not a.startswith("connectors/") and b.startswith("connectors/")
            and b != "connectors/base.py"):
        return "connectors are reached only through connectors/base.py (and the registry)"
    if a.startswith(("mappings/", "policies/")) and b.startswith("hub/store/"):
        return "mappings and policies import nothing of the store"
    return None


def _face_problem(a: str, b: str) -> str | None:
    """Why the arrow a -> b breaks "the web pages call the API's services", or None."""
    if a.startswith("hub/web/") and b.startswith("hub/api/") and (
            b == "hub/api/app.py" or _is_router(b)):
        return "the dashboard calls the API's services, not its routers"
    if a.startswith("hub/api/") and a != "hub/api/app.py" and b.startswith("hub/web/"):
        return "only the app assembly (hub/api/app.py) imports the dashboard"
    if (a.startswith("hub/api/") and a != "hub/api/app.py" and not _is_router(a)
            and b.startswith("hub/api/") and (b == "hub/api/app.py" or _is_router(b))):
        return "a service of the API imports no router"
    return None


def _layer_problem(a: str, b: str) -> str | None:
    """Why the arrow a -> b breaks DESIGN.md "Layers", or None."""
    if layer_of(b) > layer_of(a):
        return (f"{LAYER_NAMES[layer_of(a)]} imports {LAYER_NAMES[layer_of(b)]}, "
                "a layer above it")
    if (layer_of(a) == layer_of(b) == USE_CASES and part_of(a) != part_of(b)
            and part_of(a) not in RUNS_OTHER_USE_CASES):
        return ("a use case imports another use case: what both need goes down to the "
                "golden record layer or the services")
    return None


def _sccs(nodes: Iterable[str], out: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(out.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(out.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _shortest_cycle(start: str, out: dict[str, set[str]], within: set[str]) -> list[str]:
    """start -> ... -> start, as short as it gets, inside one component."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(out.get(node, ())):
            if child not in within or child in came_from:
                continue
            came_from[child] = node
            if child == start:
                chain = [start]
                while chain[-1] != start or len(chain) == 1:
                    chain.append(came_from[chain[-1]])
                return chain[::-1]
            queue.append(child)
    raise AssertionError(f"{start} is on no cycle")


def cycles(nodes: Iterable[str], arrows: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Readable cycles: for every component of mutually importing nodes, the shortest cycle
    through each of its nodes (each cycle once)."""
    out: dict[str, set[str]] = defaultdict(set)
    for a, b in arrows:
        if a != b:
            out[a].add(b)
    seen: set[tuple[str, ...]] = set()
    found = []
    for component in _sccs(nodes, out):
        for node in component:
            chain = _shortest_cycle(node, out, set(component))
            turn = chain.index(min(chain[:-1]))
            key = tuple(chain[turn:-1] + chain[:turn])
            if key not in seen:
                seen.add(key)
                found.append([*key, key[0]])
    return found


def part_arrows(arrows: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """Arrows between parts (LAYERS rows), each with the file arrows that draw it."""
    between: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a, b in sorted(arrows):
        pa, pb = part_of(a), part_of(b)
        if pa and pb and pa != pb:
            between[(pa, pb)].append(f"{a} -> {b}")
    return between


def _chain(nodes: list[str]) -> str:
    return " → ".join(nodes)


def _on_a_cycle(arrow: tuple[str, str], arrows: frozenset[tuple[str, str]]) -> bool:
    """Whether the arrow closes a loop of modules, or of parts, in the whole graph."""
    a, b = arrow
    parts = {(part_of(x), part_of(y)) for x, y in arrows if part_of(x) != part_of(y)}
    for (start, goal), edges in (((b, a), arrows), ((part_of(b), part_of(a)), parts)):
        if start == goal:
            continue
        out: dict[object, set[object]] = defaultdict(set)
        for x, y in edges:
            out[x].add(y)
        todo, seen = [start], {start}
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            for child in out[node] - seen:
                seen.add(child)
                todo.append(child)
    return False


# -- the tests --------------------------------------------------------------------------------

def test_every_module_has_a_place_and_every_row_a_module() -> None:
    files = graph().files
    unplaced = [f for f in files if part_of(f) is None]
    assert not unplaced, ("place these files in LAYERS (tests/test_layers.py): "
                          + ", ".join(unplaced))
    stale = [row for row in LAYERS
             if not any(f == row or (row.endswith("/") and f.startswith(row)) for f in files)]
    assert not stale, "LAYERS rows that match no file any more: " + ", ".join(stale)


def test_no_module_imports_itself_back() -> None:
    g = graph()
    found = cycles(g.files, g.arrows - KNOWN_VIOLATIONS.keys())
    assert not found, "import cycles between modules:\n" + "\n".join(map(_chain, found))


def test_no_part_imports_itself_back() -> None:
    g = graph()
    between = part_arrows(g.arrows - KNOWN_VIOLATIONS.keys())
    found = cycles(LAYERS, between)
    report = []
    for chain in found:
        report.append(_chain(chain))
        for pa, pb in pairwise(chain):
            report.extend(f"    {arrow}" for arrow in between[(pa, pb)][:4])
            if len(between[(pa, pb)]) > 4:
                report.append(f"    ... and {len(between[(pa, pb)]) - 4} more {pa} -> {pb}")
    assert not found, ("import cycles between parts (a helper two parts need goes down to "
                       "the lower one):\n" + "\n".join(report))


def test_layers_point_one_way() -> None:
    g = graph()
    wrong = [f"{a}:{g.lines[(a, b)]} imports {b}: {problem}"
             for a, b in sorted(g.arrows - KNOWN_VIOLATIONS.keys())
             if (problem := _layer_problem(a, b))]
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_rooms_keep_to_themselves() -> None:
    g = graph()
    wrong = [f"{a}:{g.lines[(a, b)]} imports {b}: {problem}"
             for a, b in sorted(g.arrows - KNOWN_VIOLATIONS.keys())
             if (problem := _room_problem(a, b))]
    assert not wrong, "imports across rooms:\n" + "\n".join(wrong)


def test_the_dashboard_calls_the_api_services_not_its_routers() -> None:
    g = graph()
    wrong = [f"{a}:{g.lines[(a, b)]} imports {b}: {problem}"
             for a, b in sorted(g.arrows - KNOWN_VIOLATIONS.keys())
             if (problem := _face_problem(a, b))]
    assert not wrong, "\n".join(wrong)


def test_known_violations_only_shrink() -> None:
    g = graph()
    gone = [f"{a} -> {b}" for a, b in KNOWN_VIOLATIONS if (a, b) not in g.arrows]
    assert not gone, ("fixed, well done: delete these lines from KNOWN_VIOLATIONS:\n"
                      + "\n".join(gone))
    harmless = [f"{a} -> {b}" for a, b in KNOWN_VIOLATIONS
                if not (_layer_problem(a, b) or _room_problem(a, b) or _face_problem(a, b)
                        or _on_a_cycle((a, b), g.arrows))]
    assert not harmless, ("these arrows break no rule any more: delete them from "
                          "KNOWN_VIOLATIONS:\n" + "\n".join(harmless))


# -- the checker checks itself ----------------------------------------------------------------

def test_the_graph_sees_lazy_imports_faces_and_relative_imports() -> None:
    arrows = graph().arrows
    assert ("hub/jobs.py", "hub/sync/runner.py") in arrows        # inside run_job
    assert ("hub/cli/output.py", "hub/context.py") in arrows      # under TYPE_CHECKING
    assert ("hub/config.py", "hub/registry.py") in arrows         # from hub import registry
    assert ("connectors/ldap/__init__.py", "connectors/ldap/connector.py") in arrows
    assert ("hub/api/app.py", "hub/__init__.py") in arrows        # import hub


def test_cycles_are_reported_as_chains() -> None:
    arrows = {("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "c"), ("e", "a")}
    found = cycles("abcde", arrows)
    assert [_chain(c) for c in found] == ["a → b → c → a", "c → d → c"]
