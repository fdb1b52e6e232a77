"""``kontor discover SYSTEM``: the fields a system offers, and a starter mapping for them.

Sample values are personal data more often than not, so they are shown only with
``--samples``, and then only as the privacy gate releases them to the destination
``cli:discover``. Each column is classified by the stream's mapping (its canonical field's
category) or, where no mapping names it, by its name (``mapping_guess``). A column whose
category is restricted or special, or that can't be classified at all, is released only
if a policy allows it (default deny; special categories need a legal basis). Ordinary
classified columns show as they always did, under one built-in rule weaker than any a
policy can write, so a policy may still deny, mask or pseudonymise them on the screen.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape

from hub.cli.output import console, fail, print_json

if TYPE_CHECKING:  # the configuration, connectors and policies load when the command runs
    from connectors.base import Connector, StreamSpec
    from hub import canonical, config
    from hub.taxonomy import Category
    from policies.gate import Destination, PrivacyGate
    from policies.keys import Keyring
    from policies.spec import Rule

SAMPLE_ROWS = 50  # records read for --samples
SAMPLES_PER_FIELD = 3
SAMPLE_WIDTH = 40  # characters of a released sample shown
#: Where sample values go: the operator's screen.
DESTINATION_NAME = "cli:discover"
WITHHELD = "‹withheld›"
NEEDS_KEYRING = "builtin:action-needs-keyring"


def destination() -> Destination:
    """Where sample values go: the operator's screen."""
    from policies.gate import Destination

    return Destination(DESTINATION_NAME, kind="cli")


def ordinary_on_screen() -> Rule:
    """Discover's own default for ordinary (classified, not restricted) columns: the weakest
    possible rule (root category, any destination), so every policy rule that matches the
    field for cli:discover beats it, and at a tie the more restrictive action wins. It is
    never consulted for a restricted, special or unclassified column."""
    from policies.spec import Action, Rule

    return Rule(id="builtin:discover-ordinary-fields", to=["*"], category="user",
                action=Action.ALLOW)


def _spec(system: config.System, stream: str | None, resource: str | None) -> StreamSpec | None:
    if stream is not None:
        found = next((s for s in system.streams if s.name == stream), None)
        if found is None:
            fail(f"system {system.name!r} has no stream {stream!r}; configured: "
                 f"{', '.join(s.name for s in system.streams) or 'none'}")
        return found.spec
    from connectors.base import StreamSpec

    return StreamSpec(resource, ()) if resource else None


def _samples(connector: Connector, spec: StreamSpec) -> dict[str, list[str]]:
    """Up to three distinct non-empty values per field, from the first records."""
    seen: dict[str, list[str]] = {}
    for batch in connector.read(spec, batch_size=SAMPLE_ROWS):
        for record in batch.records:
            for name, value in record.data.items():
                text = "" if value is None else str(value)
                values = seen.setdefault(name, [])
                if text and text not in values and len(values) < SAMPLES_PER_FIELD:
                    values.append(text)
        break  # the first batch is enough
    return seen


def _stream_for(system: config.System, chosen: config.Stream | None,
                resource: str) -> config.Stream | None:
    """The configured stream whose mapping classifies ``resource``'s columns, if any."""
    if chosen is not None:
        return chosen
    return next((s for s in system.streams if s.spec.resource == resource), None)


def _classify(columns: list[str], guesses: dict[str, str], entity: str,
              fields: dict[str, dict[str, canonical.FieldSpec]],
              stream: config.Stream | None) -> dict[str, tuple[str, Category | None]]:
    """Column -> (the name the gate knows it by, its data category or None).

    The stream's mapping classifies the columns it reads (their canonical fields'
    categories); the guesser the rest. A name that suggests a restricted category counts
    too: of all the candidates the most restricted wins.
    """
    from hub import taxonomy
    from hub.cli.mapping_guess import guess_category

    own = fields.get(entity, {})
    mapped = fields.get(stream.entity, {}) if stream is not None else {}
    found: dict[str, tuple[str, Category | None]] = {}
    for column in columns:
        candidates: list[tuple[str, Category]] = []
        if stream is not None:
            candidates += [(f, mapped[f].category)
                           for f in sorted(stream.mapping.fields_of_column(column))
                           if f in mapped]
        guess = guesses.get(column)
        if not candidates and guess is not None and guess in own:
            candidates.append((guess, own[guess].category))
        named = guess_category(column)
        if named is not None:
            candidates.append((column, taxonomy.lookup(named)))
        if not candidates:
            found[column] = (column, None)
            continue
        found[column] = max(candidates, key=lambda c: (c[1].special, c[1].restricted))
    return found


def _gates(deployment: config.Deployment, entity: str,
           classes: dict[str, tuple[str, Category | None]], keyring: Keyring | None
           ) -> dict[str, tuple[PrivacyGate, str]]:
    """Column -> (the gate its samples pass, the name it passes under).

    Restricted, special and unclassified columns pass the deployment's own policies
    (default deny); ordinary ones the same policies plus ``ordinary_on_screen()``.
    """
    from policies.gate import PrivacyGate
    from policies.load import PolicySet

    policies = deployment.policy_set
    lenient_set = PolicySet([*policies.rules, ordinary_on_screen()], policies.destinations,
                            policies.version, policies.files)
    strict: dict[str, Category] = {}
    lenient: dict[str, Category] = {}
    chosen: dict[str, tuple[bool, str]] = {}  # column -> (lenient?, name)
    for column, (name, category) in classes.items():
        if category is None:  # unknown to the strict gate: it denies it as unclassified
            chosen[column] = (False, f"?{column}")
            continue
        taken = {**strict, **lenient}
        if name in taken and taken[name] != category:
            name = f"{name}#{column}"  # two meanings of one name: keep them apart
        (strict if category.restricted else lenient)[name] = category
        chosen[column] = (not category.restricted, name)
    gate_strict = PrivacyGate({entity: strict}, policies, keyring)
    gate_lenient = PrivacyGate({entity: lenient}, lenient_set, keyring)
    return {c: (gate_lenient if ordinary else gate_strict, name)
            for c, (ordinary, name) in chosen.items()}


def _release(gate: PrivacyGate, entity: str, name: str, values: list[str]
             ) -> tuple[list[str] | None, str]:
    """The samples as the gate releases them to the screen (None: withheld), and the rule."""
    from policies.spec import Action

    screen = destination()
    decision = gate.decide(entity, name, screen)
    if decision.action in (Action.DENY, Action.NULL):
        return None, decision.rule
    shown: list[str] = []
    for value in values:
        try:
            released, [decision] = gate.release(entity, {name: value}, screen)
        except ValueError:  # pseudonymise, tokenise, encrypt without a keyring
            return None, NEEDS_KEYRING
        if released.get(name) is None:
            return None, decision.rule
        shown.append(str(released[name])[:SAMPLE_WIDTH])
    return shown, decision.rule


def _keyring(deployment: config.Deployment) -> Keyring | None:
    """The keys for the gate's keyed actions. Without a keyring at all, fields whose rule
    needs one are withheld; a keyring that is there but refused fails the command."""
    from hub.errors import HubError
    from policies import keys

    if not os.environ.get(keys.ENV_MASTER_KEY) and not deployment.keyring_path.exists():
        return None
    try:
        return deployment.keyring()
    except HubError as exc:
        fail(exc)


def _describe(deployment: config.Deployment, system: config.System, connector: Connector,
              spec: StreamSpec | None, entity: str, configured: config.Stream | None,
              samples: bool) -> list[dict[str, Any]]:
    from connectors.base import StreamSpec
    from hub import canonical
    from hub.cli.mapping_guess import guess_fields

    fields = canonical.builtin_fields(entity)
    streams = connector.discover(spec)
    keyring = _keyring(deployment) if samples else None
    for entry in streams:
        columns = [f["name"] for f in entry["fields"]]
        guesses = guess_fields(columns, fields)
        classes = _classify(columns, guesses, entity, deployment.fields,
                            _stream_for(system, configured, entry["resource"]))
        shown = _samples(connector, StreamSpec(entry["resource"], tuple(entry.get("key") or ()))
                         ) if samples else {}
        gates = _gates(deployment, entity, classes, keyring) if samples else {}
        for field in entry["fields"]:
            name = field["name"]
            field["guess"] = guesses.get(name)
            category = classes[name][1]
            field["category"] = category.key if category is not None else None
            if samples:
                gate, gate_name = gates[name]
                values, rule = _release(gate, entity, gate_name, shown.get(name, []))
                field["samples"] = values
                if values is None:
                    field["withheld_by"] = rule
    return streams


def discover(
    ctx: typer.Context,
    system_name: Annotated[str, typer.Argument(metavar="SYSTEM", help="A system of kontor.yaml.")],
    stream: Annotated[str | None, typer.Option(
        "--stream", help="A configured stream of the system (its resource and key).")] = None,
    resource: Annotated[str | None, typer.Option(
        "--resource", help="A file, table or endpoint not configured yet.")] = None,
    entity: Annotated[Literal["customer", "employee"] | None, typer.Option(
        help="Entity for the guesses (default: the stream's, else customer).")] = None,
    write_mapping: Annotated[Path | None, typer.Option(
        "--write-mapping", help="Write a starter mapping file here (one stream only).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing mapping file.")] = False,
    samples: Annotated[bool, typer.Option(
        help="Show a few sample values per field (personal data: off by default).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print the fields SYSTEM offers (types, canonical guesses) and write a starter mapping."""
    if stream and resource:
        fail("give --stream or --resource, not both")
    from connectors.base import Capability
    from hub import config
    from hub.errors import ConnectorError, HubError

    try:
        deployment = config.load(ctx.obj["config"])
    except HubError as exc:
        fail(exc)
    system = deployment.systems.get(system_name)
    if system is None:
        fail(f"no system {system_name!r} in {deployment.path}; configured: "
             f"{', '.join(deployment.systems) or 'none'}")
    if Capability.DISCOVER not in system.connector_cls.capabilities:
        fail(f"connector {system.config.connector!r} of {system_name!r} cannot discover")
    spec = _spec(system, stream, resource)
    configured = next((s for s in system.streams if s.name == stream), None)
    chosen = entity or (configured.entity if configured else "customer")
    try:
        with system.connect(deployment.base_dir) as connector:
            found = _describe(deployment, system, connector, spec, chosen, configured,
                              samples)
    except (ConnectorError, NotImplementedError) as exc:
        fail(f"{system_name}: discover failed: {exc}")
    if write_mapping is not None:
        _write(write_mapping, found, chosen, system_name, force)
    if as_json:
        print_json({"system": system_name, "entity": chosen, "streams": found})
        return
    for entry in found:
        _print(entry, samples)
    if write_mapping is not None:
        console.print(f"Starter mapping written to {escape(str(write_mapping))}: review every "
                      "guess, then run `kontor check`.", highlight=False)


def _write(path: Path, found: list[dict[str, Any]], entity: str, system: str,
           force: bool) -> None:
    if len(found) != 1:
        fail(f"--write-mapping needs exactly one stream; found {len(found)} "
             "(choose one with --stream or --resource)")
    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")
    from hub import canonical
    from hub.cli.mapping_guess import starter_mapping

    entry = found[0]
    text = starter_mapping(entity, [f["name"] for f in entry["fields"]],
                           canonical.builtin_fields(entity),
                           source=f"{system} {entry['resource']}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _print(entry: dict[str, Any], samples: bool) -> None:
    from rich.table import Table

    key = ", ".join(entry.get("key") or []) or "-"
    table = Table(title=f"{entry['resource']} (key: {key})", title_justify="left")
    for column in ("field", "type", "canonical guess") + (("samples",) if samples else ()):
        table.add_column(column)
    withheld = False
    for field in entry["fields"]:
        row = [escape(field["name"]), escape(field["type"]), field["guess"] or ""]
        if samples:
            values = field["samples"]
            withheld = withheld or values is None
            row.append(WITHHELD if values is None else escape(", ".join(values)))
        table.add_row(*row)
    console.print(table)
    if withheld:
        console.print(f"{WITHHELD}: no policy allows these fields to the screen "
                      f"({DESTINATION_NAME}): restricted or special categories and fields "
                      "that can't be classified stay hidden.", highlight=False)
