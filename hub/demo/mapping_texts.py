"""The demo's mapping files, one per stream, commented like an integration engineer would."""

from __future__ import annotations

CRM_CUSTOMER = """\
# CRM "Kunden" export -> canonical customer.
# The export is cp1252 with German headers, German dates and one-letter status codes.
entity: customer
on_invalid: quarantine   # a value it cannot read refuses the whole record, for a person to fix
                         # (the default, drop_field, keeps the record without that value)
updated_at: {column: GeaendertAm, format: "%d.%m.%Y %H:%M"}   # e.g. 31.12.2025 14:03

fields:
  customer_number: {column: KundenNr, required: true}
  salutation: Anrede                       # Herr / Frau, empty when unknown
  first_name: Vorname
  last_name: Nachname
  organisation_name: Firma                 # empty for private customers
  email: {column: E-Mail, normalise: [email]}   # matching key across systems
  phone: Telefon
  street: Strasse
  postal_code: PLZ                         # text, not a number: keeps leading zeros
  city: Ort
  country:
    column: Land                           # the CRM stores country names, we keep ISO codes
    values: {Deutschland: DE, Österreich: AT, Schweiz: CH, Frankreich: FR, Polen: PL}
    default: DE
  date_of_birth: {column: Geburtsdatum, format: "%d.%m.%Y"}
  vat_id: USt-IdNr
  status:
    column: Status
    values: {A: active, I: inactive, G: blocked}   # aktiv / inaktiv / gesperrt
  marketing_consent: {column: Newsletter, true_values: [ja], false_values: [nein]}
"""

BILLING_CUSTOMER = """\
# Billing database, table customers -> canonical customer.
# `id` (B-nnnnnn) is billing's own key: the hub keeps it as the cross-reference and
# matches billing customers to CRM customers by normalised email, not by id.
entity: customer
on_invalid: quarantine   # a value it cannot read refuses the whole record, for a person to fix
                         # (the default, drop_field, keeps the record without that value)
updated_at: updated_at                     # ISO 8601, also the incremental cursor

fields:
  organisation_name: company
  first_name: first_name
  last_name: last_name
  email: {column: email, normalise: [email]}   # billing has " Anna.Schmidt@Example.de "
  phone: phone
  street: street
  postal_code: postal_code
  city: city
  country: {column: country, normalise: [upper]}   # already ISO codes
  vat_id: vat_id
  status:
    column: status
    values: {active: active, suspended: blocked, closed: inactive}
"""

HR_EMPLOYEE = """\
# HR export (mitarbeiter.xml, one <employee> element each) -> canonical employee.
# Dates are ISO (YYYY-MM-DD), salary is the monthly gross with a decimal point.
# The last seven fields are restricted data (bank, government ids, health, criminal
# record, legal file): the privacy gate keeps them from every target unless a policy
# allows it.
entity: employee
on_invalid: quarantine   # a value it cannot read refuses the whole record, for a person to fix
                         # (the default, drop_field, keeps the record without that value)
updated_at: geaendert_am

fields:
  employee_number: {column: personalnummer, required: true}
  first_name: vorname
  last_name: nachname
  work_email: {column: email_dienstlich, normalise: [email]}
  private_email: {column: email_privat, normalise: [email]}
  phone: telefon
  street: strasse
  postal_code: plz
  city: ort
  country: {column: land, default: DE}
  date_of_birth: geburtsdatum
  department: abteilung
  job_title: position
  manager_number: vorgesetzter             # personalnummer of the line manager
  hire_date: eintrittsdatum
  termination_date: austrittsdatum         # empty while employed
  salary: gehalt
  iban: {column: iban, normalise: [upper]}
  national_id: ausweisnummer               # Personalausweis
  social_security_number: sozialversicherungsnummer
  sick_leave_reason: krankheitsgrund       # health data (GDPR Art. 9)
  disability_status: schwerbehinderung     # health data (GDPR Art. 9)
  criminal_record_check: fuehrungszeugnis  # clear / pending / record found (Art. 10)
  disciplinary_notes: abmahnungen          # legal file
"""

PAYROLL_EMPLOYEE = """\
# Canonical employee -> payroll table employees (outbound).
# Payroll gets what it needs to pay people; whatever the privacy gate denies for the
# purpose "employment" is simply left out of the row.
entity: employee

fields:
  employee_number: personnel_no
  first_name: first_name
  last_name: last_name
  work_email: email
  department: department
  job_title: job_title
  hire_date: hire_date                     # ISO dates
  termination_date: termination_date
  salary: salary
  iban: iban
"""

NEWSLETTER_CUSTOMER = """\
# Canonical customer -> newsletter subscriber list (outbound, only marketing_consent: true).
entity: customer

fields:
  email: email
  first_name: first_name
  last_name: last_name
  country: country
"""

ANALYTICS_CUSTOMER = """\
# Canonical customer -> analytics export. The policy pseudonymises the email (a stable
# reference the BI team cannot reverse) and generalises birth date and postcode.
entity: customer

fields:
  email: customer_ref
  date_of_birth: birth_year
  postal_code: region
  country: country
  status: status
  marketing_consent: {column: newsletter, true_values: ["yes"], false_values: ["no"]}
"""

MAPPINGS = {
    "crm_customer.yaml": CRM_CUSTOMER,
    "hr_employee.yaml": HR_EMPLOYEE,
    "billing_customer.yaml": BILLING_CUSTOMER,
    "payroll_employee.yaml": PAYROLL_EMPLOYEE,
    "newsletter_customer.yaml": NEWSLETTER_CUSTOMER,
    "analytics_customer.yaml": ANALYTICS_CUSTOMER,
}
