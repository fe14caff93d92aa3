"""Migration operations that apply the SQL of this package."""

from contextlib import contextmanager

from django.db.migrations.operations.base import Operation, OperationCategory
from django.db.migrations.operations.special import SeparateDatabaseAndState

from core.sql import counters


def _execute(schema_editor, sql: str | list[str] | None) -> None:
    for statement in [sql] if isinstance(sql, str) else sql or []:
        schema_editor.execute(statement)


class RunForVendor(Operation):
    """Run the SQL written for the migrating database's vendor (`postgresql`, `sqlite`): a string
    or a list of statements, and its reverse. A vendor given no SQL runs nothing; with
    `required`, a vendor not named at all is refused."""

    category = OperationCategory.SQL
    reduces_to_sql = False
    reversible = True

    def __init__(self, *, forward: dict, backward: dict | None = None, required: bool = False):
        self.forward = forward
        self.backward = backward or {}
        self.required = required

    def deconstruct(self):
        kwargs = {"forward": self.forward, "backward": self.backward, "required": self.required}
        return (self.__class__.__qualname__, [], kwargs)

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._run(schema_editor, self.forward)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._run(schema_editor, self.backward)

    def _run(self, schema_editor, sql_by_vendor: dict) -> None:
        vendor = schema_editor.connection.vendor
        if self.required and vendor not in self.forward:
            raise NotImplementedError(f"No SQL written for {vendor}.")
        _execute(schema_editor, sql_by_vendor.get(vendor))

    def describe(self):
        return "Vendor-specific SQL"


class RebuildingOnSQLite(SeparateDatabaseAndState):
    """Run `operations`, on SQLite with the attendee counters' triggers stepped aside.

    SQLite adds most columns by rebuilding the table, and renaming the rebuilt table fails while
    a trigger names the old one; a rebuild of `core_attendee` would drop them. So on SQLite the
    triggers are dropped first and `triggers` (the counters' SQLite statements in force at this
    migration) created again after, both ways. Other databases run `operations` as they are,
    or with `sqlite_only` (a column PostgreSQL's own SQL made already) change only the state.
    """

    def __init__(self, operations, triggers=None, sqlite_only=False):
        super().__init__(database_operations=operations, state_operations=operations)
        self.operations = operations
        self.triggers = counters.SQLITE if triggers is None else triggers
        self.sqlite_only = sqlite_only

    def deconstruct(self):
        kwargs = {"operations": self.operations, "triggers": self.triggers}
        if self.sqlite_only:
            kwargs["sqlite_only"] = True
        return (self.__class__.__qualname__, [], kwargs)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if self._applies_to(schema_editor):
            with self._stepped_aside(schema_editor):
                super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if self._applies_to(schema_editor):
            with self._stepped_aside(schema_editor):
                super().database_backwards(app_label, schema_editor, from_state, to_state)

    def _applies_to(self, schema_editor) -> bool:
        return not self.sqlite_only or schema_editor.connection.vendor == "sqlite"

    def describe(self):
        return "Operations run with SQLite's counting triggers stepped aside"

    @contextmanager
    def _stepped_aside(self, schema_editor):
        on_sqlite = schema_editor.connection.vendor == "sqlite"
        if on_sqlite:
            _execute(schema_editor, counters.SQLITE_DROP)
        yield
        if on_sqlite:
            _execute(schema_editor, self.triggers)
