"""SQL databases through SQLAlchemy Core: SQLite, PostgreSQL, MySQL/MariaDB.

``connector.py`` reads, writes and deletes; ``write.py`` holds the set-based statements;
``errors.py`` tells the runner what a database error means without quoting values;
``plumbing.py`` owns the engine and the password.
"""

from connectors.sql.connector import SqlConnector
from connectors.sql.settings import SqlSettings

__all__ = ["SqlConnector", "SqlSettings"]
