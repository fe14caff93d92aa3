"""A cursor for the statements that run on every request of a hot path."""

from django.db import DEFAULT_DB_ALIAS, connections


def unlogged_cursor():
    """A cursor whose statements stay out of DEBUG's query log (connection.queries): logging a
    statement renders its SQL with its parameters, which costs more than sending it. Used for
    the response cache's version read and the registration's and check-in's one statement. A
    test capturing queries (CaptureQueriesContext, which forces the log) still sees them; the
    backend's execute wrappers (timeouts) apply as ever."""
    this = connections[DEFAULT_DB_ALIAS]  # the thread's connection, looked up once
    if this.force_debug_cursor:
        return this.cursor()
    this.close_if_health_check_failed()
    this.ensure_connection()
    this.validate_thread_sharing()
    with this.wrap_database_errors:
        return this.make_cursor(this.create_cursor())
