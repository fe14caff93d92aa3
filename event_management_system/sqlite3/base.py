"""Django's SQLite backend, whose migrations keep the database's triggers through a table's
rebuild.

SQLite changes most columns by rebuilding the table: a new one is created, the rows copied, the
old one dropped and the new one renamed. A trigger on the old table goes with it, and renaming
fails while another table's trigger names it (the attendee counters of core/sql/counters.py name
`core_event`). So every trigger on the table, or naming it, is set aside before the rebuild and
created again, as it was, after: a migration that adds a field to Event or Attendee is the plain
operation `makemigrations` writes.
"""

import re

from django.db.backends.sqlite3 import base, schema


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    """SQLite's schema editor, with triggers kept through `_remake_table` (see the module)."""

    def _remake_table(self, model, create_field=None, delete_field=None, alter_fields=None):
        table = model._meta.db_table
        triggers = self._triggers_involving(table)
        for name, _ in triggers:
            self.execute(f"DROP TRIGGER {self.quote_name(name)}")
        super()._remake_table(
            model, create_field=create_field, delete_field=delete_field, alter_fields=alter_fields
        )
        for _, sql in triggers:
            self.execute(sql)

    def _triggers_involving(self, table: str) -> list[tuple[str, str]]:
        """(name, SQL) of each trigger on `table` or naming it in its body."""
        named = re.compile(rf"\b{re.escape(table)}\b", re.IGNORECASE)
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
            return [
                (name, sql)
                for name, on_table, sql in cursor.fetchall()
                if on_table == table or named.search(sql)
            ]


class DatabaseWrapper(base.DatabaseWrapper):
    """SQLite, its migrations keeping triggers through table rebuilds."""

    SchemaEditorClass = DatabaseSchemaEditor
