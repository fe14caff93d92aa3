"""Migration operations that apply the SQL of this package.

SQLite's table rebuilds need no operation of their own: its backend keeps the triggers through
them (event_management_system/sqlite3).
"""

from django.db.migrations.operations.base import Operation, OperationCategory


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


class OnlyOn(Operation):
    """`operation` in the migration state everywhere, in the database of `vendor` only: for a
    column another vendor's own SQL made already (as PostgreSQL's versions, core/sql/versions.py,
    made `core_event.change_version`)."""

    category = OperationCategory.MIXED
    reversible = True

    def __init__(self, vendor: str, operation: Operation):
        self.vendor = vendor
        self.operation = operation

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.vendor, self.operation], {})

    def state_forwards(self, app_label, state):
        self.operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"{self.operation.describe()} (in the database on {self.vendor} only)"
