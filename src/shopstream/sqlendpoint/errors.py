"""What a session raises: errors sent to the client with a SQLSTATE, and a client gone."""

from __future__ import annotations

import duckdb


class ClientGone(Exception):
    """The client closed the connection (or sent Terminate)."""


class ClientStalled(ClientGone):
    """The client stopped reading (its socket took no data for `sql.send_timeout_seconds`)."""


class PgError(Exception):
    """An error to send as ErrorResponse with a SQLSTATE; `fatal` ends the connection."""

    def __init__(self, code: str, text: str, *, fatal: bool = False, hint: str | None = None):
        super().__init__(text)
        self.code = code
        self.text = text
        self.fatal = fatal
        self.hint = hint

    def __reduce__(self) -> tuple[object, ...]:
        # Checked statements come back from the checker process pickled.
        return (PgError, (self.code, self.text), {"fatal": self.fatal, "hint": self.hint})


PROTOCOL_VIOLATION = "08P01"
QUERY_CANCELED = "57014"
OUT_OF_MEMORY = "53200"
PROGRAM_LIMIT = "54000"  # program_limit_exceeded


def error_of(err: Exception) -> PgError:
    """A DuckDB exception as a PostgreSQL error (SQLSTATE by kind; first line of text)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, duckdb.InterruptException):
        return PgError(
            QUERY_CANCELED, "canceling statement due to statement timeout or user request"
        )
    if isinstance(err, duckdb.ParserException):
        return PgError("42601", text)
    if isinstance(err, duckdb.CatalogException):
        code = "42883" if "Function" in text or "Macro" in text else "42P01"
        return PgError(code, text)
    if isinstance(err, duckdb.BinderException):
        return PgError("42703", text)
    if isinstance(err, duckdb.ConversionException | duckdb.InvalidInputException):
        return PgError("22P02", text)
    if isinstance(err, duckdb.PermissionException):
        return PgError("42501", text)
    if isinstance(err, duckdb.TransactionException) and "read-only" in text:
        return PgError("25006", text)
    if isinstance(err, duckdb.OutOfMemoryException):
        return PgError(OUT_OF_MEMORY, text)
    return PgError("XX000", text)
