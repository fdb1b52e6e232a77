"""Guess which canonical field a discovered column holds, and write a starter mapping.

Guesses come from the column's name only (never its values): a table of names back
offices commonly use (German, English, French and Spanish), then the closest canonical field
name. Every guess is marked as one in the written file, for a person to review.

``guess_category`` names the restricted data category a column's name suggests (health,
disability, criminal record, disciplinary notes, government ids, bank and card details),
whether or not a canonical field fits it, so ``kontor discover`` can hold its values back.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping

from hub.canonical import FieldSpec
from hub.matching.profile import fold

#: A record's own number, by entity: what a bare "id" or "nr" column usually holds.
_NUMBER = ("customer_number", "employee_number")
#: Common column names (folded, without spaces) -> canonical field (or candidates).
SYNONYMS: dict[str, str | tuple[str, ...]] = {
    "id": _NUMBER, "nr": _NUMBER, "nummer": _NUMBER, "number": _NUMBER,
    "vorname": "first_name", "firstname": "first_name", "givenname": "first_name",
    "nachname": "last_name", "familienname": "last_name", "surname": "last_name",
    "lastname": "last_name", "sn": "last_name", "name": "last_name",
    "mail": "email", "email": "email", "emailadresse": "email", "emailaddress": "email",
    "telefon": "phone", "tel": "phone", "telephone": "phone", "phonenumber": "phone",
    "mobil": "phone", "strasse": "street", "street": "street", "address": "street",
    "plz": "postal_code", "zip": "postal_code", "zipcode": "postal_code",
    "postcode": "postal_code", "postleitzahl": "postal_code", "ort": "city", "stadt": "city",
    "town": "city", "land": "country", "countrycode": "country",
    "geburtsdatum": "date_of_birth", "birthday": "date_of_birth", "dob": "date_of_birth",
    "birthdate": "date_of_birth", "kundennr": "customer_number",
    "kundennummer": "customer_number", "customerid": "customer_number",
    "customerno": "customer_number", "firma": "organisation_name",
    "company": "organisation_name", "anrede": "salutation", "steuernummer": "tax_id",
    "ustid": "vat_id", "newsletter": "marketing_consent", "personalnummer": "employee_number",
    "persnr": "employee_number", "employeeid": "employee_number",
    "employeenumber": "employee_number", "abteilung": "department", "position": "job_title",
    "title": "job_title", "eintritt": "hire_date", "eintrittsdatum": "hire_date",
    "austritt": "termination_date", "austrittsdatum": "termination_date",
    "gehalt": "salary", "iban": "iban", "vorgesetzter": "manager_number",
    # French and Spanish
    "prenom": "first_name", "nombre": "first_name", "nom": "last_name",
    "nomdefamille": "last_name", "apellido": "last_name", "apellidos": "last_name",
    "courriel": "email", "correo": "email", "correoelectronico": "email",
    "telefono": "phone", "codepostal": "postal_code",
    "codigopostal": "postal_code", "ville": "city", "ciudad": "city", "pays": "country",
    "pais": "country", "datedenaissance": "date_of_birth", "fechadenacimiento": "date_of_birth",
    # Restricted fields (German, English, French, Spanish)
    "krankheitsgrund": "sick_leave_reason", "krankmeldung": "sick_leave_reason",
    "sickleavereason": "sick_leave_reason", "motifarretmaladie": "sick_leave_reason",
    "motivobajamedica": "sick_leave_reason", "behinderung": "disability_status",
    "schwerbehinderung": "disability_status", "handicap": "disability_status",
    "discapacidad": "disability_status", "disability": "disability_status",
    "fuehrungszeugnis": "criminal_record_check", "casierjudiciaire": "criminal_record_check",
    "antecedentespenales": "criminal_record_check", "abmahnung": "disciplinary_notes",
    "abmahnungen": "disciplinary_notes", "sanctionsdisciplinaires": "disciplinary_notes",
    "sancionesdisciplinarias": "disciplinary_notes", "ausweisnummer": "national_id",
    "personalausweis": "national_id", "dni": "national_id", "cni": "national_id",
    "sozialversicherungsnummer": "social_security_number", "svnummer": "social_security_number",
    "nir": "social_security_number", "numerodesecuritesociale": "social_security_number",
    "numerodeseguridadsocial": "social_security_number", "nss": "social_security_number",
    "steuerid": "tax_id", "steueridentifikationsnummer": "tax_id", "nif": "tax_id",
    "kontonummer": "iban",
}
#: Words in a column name that suggest a restricted data category (folded, no spaces).
#: Longer words match anywhere in the name; the ``_SHORT`` ones only as a whole word.
RESTRICTED_WORDS: dict[str, tuple[str, ...]] = {
    "user.health_and_medical": (
        "krankheit", "krankmeld", "arbeitsunfaehig", "gesundheit", "diagnos", "behinder",
        "schwerbehind", "schwanger", "medizin", "medic", "health", "sickleave", "sickness",
        "illness", "disab", "pregnan", "allerg", "maladie", "sante", "invalidite", "handicap",
        "grossesse", "enfermedad", "salud", "incapacidad", "discapacidad", "minusvalia",
        "embarazo", "gdb", "rqth"),
    "user.criminal_history": (
        "fuehrungszeugnis", "fuhrungszeugnis", "polizeilich", "vorstraf", "strafregister",
        "zentralregister", "criminal", "conviction", "policecheck", "policecertificate",
        "backgroundcheck", "casier", "penales", "delitos", "condena"),
    "user.legal_proceedings": (
        "abmahnung", "disziplinar", "disciplin", "verwarnung", "sanction", "sancion",
        "avertissement", "amonestacion", "rechtsstreit", "gerichtsverfahren", "litige",
        "litigio"),
    "user.government_id.tax_identification_number": (
        "steuerid", "steueridentifikation", "steuernummer", "steuernr", "taxid", "taxnumber",
        "taxidentification", "numerofiscal", "identifiantfiscal", "idfiscal", "numfiscal",
        "identificacionfiscal", "nif", "cif", "tin", "stnr", "idnr"),
    "user.government_id.passport_number": (
        "passport", "reisepass", "passnummer", "passnr", "passeport", "pasaporte"),
    "user.government_id.national_identification_number": (
        "ausweis", "nationalid", "nationalidentity", "idcard", "identitycard", "cartedidentite",
        "cartenationale", "numerodidentite", "documentoidentidad", "documentodeidentidad",
        "numeroidentidad", "sozialversicherung", "versicherungsnummer", "rentenversicherung",
        "socialsecurity", "securitesociale", "numerosecu", "seguridadsocial", "afiliacion",
        "nationalinsurance", "insee", "dni", "nie", "nir", "nss", "naf", "nuss", "ssn", "svnr",
        "svn", "cni", "secu"),
    "user.financial.credit_card": (
        "kreditkart", "creditcard", "cartebancaire", "cartedecredit", "tarjeta", "cardnumber",
        "kartennummer", "numerodecarte", "cvv", "cvc"),
    "user.financial.bank_account": (
        "iban", "kontonummer", "kontonr", "bankverbindung", "bankleitzahl", "bankaccount",
        "bankkonto", "comptebancaire", "relevedidentitebancaire", "coordonneesbancaires",
        "cuentabancaria", "numerodecuenta", "numerocuenta", "datosbancarios", "swift", "bic",
        "rib", "blz", "ccc", "ktonr"),
}
_SHORT = 4  # words this long or shorter match only as a whole word of the column name
#: Columns that look like the record's own "last changed" time.
UPDATED_AT = {"updatedat", "changedat", "modifiedat", "lastmodified", "geaendertam",
              "aenderungsdatum", "lastchanged", "updated", "modified", "timestamp"}
_CUTOFF = 0.8


def _folded(column: str) -> str:
    return fold(column.rsplit(".", 1)[-1].lstrip("@")).replace(" ", "")


def guess_fields(columns: list[str], canonical: Mapping[str, FieldSpec]) -> dict[str, str]:
    """Column -> canonical field, for the columns with a good guess; each field used once."""
    scored: list[tuple[float, str, str]] = []
    names = {f.replace("_", ""): f for f in canonical}
    for column in columns:
        key = _folded(column)
        if not key:
            continue
        known = SYNONYMS.get(key, ())
        candidates = (known,) if isinstance(known, str) else known
        field = next((c for c in candidates if c in canonical), None)
        if field is not None:
            scored.append((2.0, column, field))
            continue
        close = difflib.get_close_matches(key, list(names), n=1, cutoff=_CUTOFF)
        if close:
            ratio = difflib.SequenceMatcher(None, key, close[0]).ratio()
            scored.append((ratio, column, names[close[0]]))
    chosen: dict[str, str] = {}
    for _, column, field in sorted(scored, key=lambda s: -s[0]):
        if column not in chosen and field not in chosen.values():
            chosen[column] = field
    return chosen


def guess_category(column: str) -> str | None:
    """The restricted data category a column's name suggests, or None.

    The whole dotted path counts (``gesundheit.grund``), words split at separators and at
    camel case (``SteuerID``). Over-matching only holds back a harmless value; missing a
    match would show a restricted one, so the words are generous.
    """
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", column)
    words = fold(spaced).split()
    joined = "".join(words)
    for category, needles in RESTRICTED_WORDS.items():
        for needle in needles:
            if needle in words if len(needle) <= _SHORT else needle in joined:
                return category
    return None


def updated_at_column(columns: list[str]) -> str | None:
    """The column that looks like the record's "last changed" time, if one does."""
    return next((c for c in columns if _folded(c) in UPDATED_AT), None)


def _quoted(name: str) -> str:
    """A YAML scalar for a column name, quoted when plain style could misread it."""
    plain = name and name[0].isalpha() and all(c.isalnum() or c in "_-." for c in name)
    return name if plain else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def starter_mapping(entity: str, columns: list[str], canonical: Mapping[str, FieldSpec],
                    *, source: str) -> str:
    """The text of a starter mapping file: guesses active, everything else commented out."""
    guesses = guess_fields(columns, canonical)
    updated = updated_at_column(columns)
    today = dt.date.today().isoformat()
    lines = [f"# Starter mapping for {source}, written by `kontor discover` on {today}.",
             "# Every active line is a GUESS from the column name: check each one, then run",
             "# `kontor check`. Commented lines are columns without a guess.",
             f"entity: {entity}"]
    if updated is not None and updated not in guesses:
        lines.append(f"# updated_at: {{column: {_quoted(updated)}}}   # add `format:` unless "
                     "the values are ISO 8601")
    lines.append("fields:")
    if not guesses:
        lines.append("  {}   # no guesses: map at least one field below")
    for column in columns:
        field = guesses.get(column)
        if field is not None:
            restricted = " (restricted category: it never leaves the hub unless a policy "\
                "allows)" if canonical[field].restricted else ""
            lines.append(f"  {field}: {_quoted(column)}   # guessed{restricted}")
        elif column != updated:
            lines.append(f"  # ?: {_quoted(column)}   # no canonical field guessed; name one, "
                         "or declare a custom field")
    return "\n".join(lines) + "\n"
