"""loader: bulk-load delimited files into SQL Server, PostgreSQL and SQLite, atomically."""

__version__ = "0.1.0"
