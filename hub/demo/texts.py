"""The demo's kontor.yaml and README, written the way a user would write them."""

from __future__ import annotations

KONTOR_YAML = """\
# Kontor deployment of Brandt & Söhne Haustechnik GmbH (demo data, made up with Faker).
#
# Three systems feed the hub (CRM, HR, billing); three are fed by it (payroll, newsletter,
# analytics). What each may receive is decided by policies/default.yaml, field by field.
# Relative paths are relative to this folder. Check your edits with `kontor check`.

version: 1
database: kontor.db          # the hub's own store; KONTOR_DATABASE_URL overrides it
batch_size: 1000             # records per transaction; memory stays bounded by this

systems:

  # --- sources -------------------------------------------------------------------

  crm:
    connector: csv
    description: Vertriebs-CRM, nightly export from the old Windows client
    settings:
      directory: data/crm
      delimiter: ";"
      encoding: cp1252       # the CRM still exports Windows-1252, not UTF-8
      quotechar: '"'
    streams:
      kunden:
        entity: customer
        direction: inbound
        resource: kunden.csv
        key: [KundenNr]
        mapping: mappings/crm_customer.yaml

  hr:
    connector: xml
    description: Personalwerk HR, XML export of all employees incl. leavers
    settings:
      directory: data/hr
      record_tag: employee
      encoding: utf-8
    streams:
      mitarbeiter:
        entity: employee
        direction: inbound
        resource: mitarbeiter.xml
        key: [personalnummer]
        mapping: mappings/hr_employee.yaml

  billing:
    connector: sql
    description: Billing database (its own customer ids, B-nnnnnn)
    settings:
      url: sqlite:///data/billing/billing.db
      # On a real server, keep the password out of this file:
      # url: postgresql+psycopg://kontor@billing-db.internal/billing
      # password: ${env:BILLING_DB_PASSWORD}
    streams:
      customers:
        entity: customer
        direction: inbound
        resource: customers
        key: [id]
        cursor_field: updated_at   # after the first run, read only rows changed since
        mapping: mappings/billing_customer.yaml

  # --- targets -------------------------------------------------------------------

  payroll:
    connector: sql
    description: Payroll (Lohnbuchhaltung); gets what it needs to pay people, no more
    settings:
      url: sqlite:///data/payroll/payroll.db
    streams:
      employees:
        entity: employee
        direction: outbound
        resource: employees
        key: [personnel_no]
        purpose: employment        # health, criminal-record and legal fields never go here
        mapping: mappings/payroll_employee.yaml

  newsletter:
    connector: csv
    description: Subscriber list for the newsletter tool (uploaded by marketing)
    settings:
      directory: data/newsletter
      delimiter: ","
      encoding: utf-8
    streams:
      subscribers:
        entity: customer
        direction: outbound
        resource: subscribers.csv
        key: [email]
        purpose: marketing.communications.email
        # Who may be on the list is the privacy policy's call (policies/default.yaml):
        # without marketing consent, no email address leaves the hub for this system.
        mapping: mappings/newsletter_customer.yaml

  analytics:
    connector: csv
    description: "Monthly export for the BI team: pseudonymised and generalised, no names"
    settings:
      directory: data/analytics
    streams:
      customers:
        entity: customer
        direction: outbound
        resource: customers.csv
        key: [customer_ref]
        purpose: analytics.reporting
        mapping: mappings/analytics_customer.yaml
"""

README = """\
# Kontor demo: Brandt & Söhne Haustechnik GmbH

Made-up back office of a small company (generated with Faker, seed {seed}):
- `data/crm/kunden.csv`: {customers} CRM customers (cp1252, `;`, German dates), 4 rows dirty on purpose
- `data/hr/mitarbeiter.xml`: {employees} employees incl. health, criminal-record and disciplinary fields
- `data/billing/billing.db`: {billing} billing customers, {overlap} of them also in the CRM (same email)
- `data/payroll/payroll.db`, `data/newsletter/`, `data/analytics/`: targets the hub fills; `mappings/`: one file per stream
- `policies/default.yaml`: what each target and API role may receive; `.kontor/keyring.json`: the master key (keep it out of version control)

Try, in this folder: `kontor check` (validate the configuration), `kontor sync` (import and
deliver; the dirty records land in quarantine), `kontor status` (runs, counts, errors)
`kontor policy simulate --system payroll.employees --employee E-1001` (what payroll
would get, and why) and `kontor serve` (API and web view).
"""
