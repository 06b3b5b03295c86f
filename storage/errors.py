"""The storage layer's exceptions. Driver exceptions never escape a backend: they become these."""


class StorageError(Exception):
    """Base class: something went wrong reading or writing the store."""


class DatabaseUnavailable(StorageError):
    """The database cannot be reached or opened (server down, bad path, bad credentials)."""


class DiskFull(DatabaseUnavailable):
    """The database's file system (or its size limit) is full: nothing more can be written until
    space is freed. Reads still work."""


class SchemaError(StorageError):
    """The database's schema is not one this version can use."""


class SchemaTooNew(SchemaError):
    """The database was migrated by a newer Redline; refusing to touch it."""


class SchemaOutdated(SchemaError):
    """The database needs `redline db upgrade` before this version can use it."""


class NotFound(StorageError):
    """No such article, revision or source."""


class InvalidInput(StorageError):
    """A value the store refuses (a URL that is not http(s), a bad revision number...)."""


class DamagedRevision(StorageError):
    """A revision whose stored content does not decode to what it says it holds (a damaged
    frame or base, or bytes that fail their checksum). Names the article and revision; the
    other revisions and articles are not affected."""

    def __init__(self, message: str, *, article_id: int, number: int) -> None:
        super().__init__(message)
        self.article_id = article_id
        self.number = number
