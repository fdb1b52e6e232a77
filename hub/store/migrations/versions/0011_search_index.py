"""search index: name search, sort orders and a change generation for the API's reads

Revision ID: 0011_search_index
Revises: 0010_source_keys
Create Date: 2026-12-10

The API's name search (a part of a first, last or organisation name, any case) gets a
trigram index: FTS5 on SQLite, pg_trgm (GIN, for ILIKE) on PostgreSQL. SCIM's sort orders and its
``active`` filter get plain indexes. ``search_generation`` counts the changes to each golden
table, so a page's total can be remembered until the table changes
(hub/store/search_index.py). Triggers keep all of it in step with every golden write, in
the writer's transaction (on SQLite they note the changed ids, which the write path's
``search_index.refresh`` indexes a batch at a time); only unrestricted columns are indexed
(restricted ones hold ciphertext and are never searched).
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_search_index'
down_revision = '0010_source_keys'
branch_labels = None
depends_on = None

# The columns the name search reads, per golden table (hub/api/services.py NAME_FIELDS).
_NAMES = {'customer': ('first_name', 'last_name', 'organisation_name'),
          'employee': ('first_name', 'last_name')}
# (table, columns): sort orders SCIM offers, the ``active`` filter, ``updated_since``.
_INDEXES = {
    'ix_golden_employee_last_name_id': ('golden_employee', ['last_name', 'id']),
    'ix_golden_employee_first_name_id': ('golden_employee', ['first_name', 'id']),
    'ix_golden_employee_termination_date': ('golden_employee', ['termination_date']),
    'ix_golden_employee_updated_at': ('golden_employee', ['updated_at']),
    'ix_golden_employee_created_at': ('golden_employee', ['created_at']),
    'ix_golden_customer_updated_at': ('golden_customer', ['updated_at']),
}


def upgrade() -> None:
    for name, (table, columns) in _INDEXES.items():
        op.create_index(name, table, columns, unique=False)
    op.create_table('search_generation',
                    sa.Column('entity', sa.String(length=20), primary_key=True),
                    sa.Column('n', sa.BigInteger(), nullable=False))
    op.bulk_insert(sa.table('search_generation', sa.column('entity'), sa.column('n')),
                   [{'entity': e, 'n': 0} for e in _NAMES])
    if op.get_bind().dialect.name == 'postgresql':
        _postgresql()
    else:
        _sqlite()


def _postgresql() -> None:
    op.execute("""
        CREATE FUNCTION kontor_search_generation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE search_generation SET n = n + 1 WHERE entity = TG_ARGV[0];
            RETURN NULL;
        END $$""")
    for entity in _NAMES:
        op.execute(f"CREATE TRIGGER golden_{entity}_generation AFTER INSERT OR UPDATE OR "
                   f"DELETE OR TRUNCATE ON golden_{entity} FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION kontor_search_generation('{entity}')")
    bind = op.get_bind()
    try:  # trusted since PostgreSQL 13; without it the search scans, as before
        with bind.begin_nested():
            bind.exec_driver_sql('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    except sa.exc.DBAPIError:
        return
    for entity, columns in _NAMES.items():
        for column in columns:  # gin_trgm_ops serves ILIKE, which the search compiles to
            op.execute(f'CREATE INDEX ix_golden_{entity}_{column}_trgm ON golden_{entity} '
                       f'USING gin ({column} gin_trgm_ops)')


def _sqlite() -> None:
    for entity, columns in _NAMES.items():
        side, fts, dirty = f'search_{entity}', f'search_{entity}_fts', f'search_{entity}_dirty'
        cols = ', '.join(columns)
        # What the FTS index holds, under a stable INTEGER key: the golden table's own rowid
        # may change under VACUUM (its key is text), which would orphan the index's rows.
        op.execute(f'CREATE TABLE {side} (row INTEGER PRIMARY KEY, '
                   f'id VARCHAR(32) NOT NULL UNIQUE, {cols})')
        op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{side}', "
                   f"content_rowid='row', tokenize='trigram')")
        # Golden records whose names changed since the index last caught up. A trigger
        # only notes the id (FTS5 written row by row from a trigger costs ~10x a batch:
        # it flushes at every statement); search_index.refresh indexes them a batch at
        # a time, and until then the search reads them from the golden table itself.
        op.execute(f'CREATE TABLE {dirty} (id VARCHAR(32) PRIMARY KEY) WITHOUT ROWID')
        note = f'INSERT OR IGNORE INTO {dirty} VALUES'
        bump = f"UPDATE search_generation SET n = n + 1 WHERE entity = '{entity}';"
        changed = ' OR '.join(f'old.{c} IS NOT new.{c}' for c in columns)
        op.execute(f'CREATE TRIGGER golden_{entity}_search_ai AFTER INSERT ON golden_{entity} '
                   f'BEGIN {note} (new.id); {bump} END')
        op.execute(f'CREATE TRIGGER golden_{entity}_search_au AFTER UPDATE ON golden_{entity} '
                   f'BEGIN {bump} END')
        op.execute(f'CREATE TRIGGER golden_{entity}_search_names AFTER UPDATE ON '
                   f'golden_{entity} WHEN {changed} BEGIN {note} (new.id); END')
        op.execute(f'CREATE TRIGGER golden_{entity}_search_ad AFTER DELETE ON golden_{entity} '
                   f'BEGIN {note} (old.id); {bump} END')
        op.execute(f'INSERT INTO {side}(id, {cols}) SELECT id, {cols} FROM golden_{entity}')
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for entity, columns in _NAMES.items():
            for column in columns:
                op.execute(f'DROP INDEX IF EXISTS ix_golden_{entity}_{column}_trgm')
            op.execute(f'DROP TRIGGER golden_{entity}_generation ON golden_{entity}')
        op.execute('DROP FUNCTION kontor_search_generation()')
    else:
        for entity in _NAMES:
            for suffix in ('ai', 'au', 'names', 'ad'):
                op.execute(f'DROP TRIGGER golden_{entity}_search_{suffix}')
            for suffix in ('_fts', '_dirty', ''):
                op.execute(f'DROP TABLE search_{entity}{suffix}')
    op.drop_table('search_generation')
    for name, (table, _) in _INDEXES.items():
        op.drop_index(name, table_name=table)
