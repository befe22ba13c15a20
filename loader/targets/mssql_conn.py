"""SQL Server connection settings: SQLAlchemy-style URLs, odbc_connect= and raw ODBC strings.

All three forms become one ordered set of ODBC keywords, from which the pyodbc string, the
mssql-python string (no DRIVER, only keywords it knows: its parser refuses others) and the
bcp arguments are made. TLS is on unless the user turns it off: Encrypt=yes is added when
absent, and TrustServerCertificate is only ever what the user wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import ConfigError
from .odbc import connection_string, parse_connection_string

DEFAULT_DRIVER = "ODBC Driver 18 for SQL Server"
# mssql-python 1.16 refuses keywords it does not know (Connection Timeout, seen here): only these
# are passed on to it.
# (mssql-python 1.16 constants._ALLOWED_CONNECTION_STRING_PARAMS, minus driver and app, which it controls)
_MSSQL_PYTHON_KEYS = {"server", "address", "addr", "uid", "pwd", "authentication", "trusted_connection", "database",
                      "encrypt", "trustservercertificate", "trust_server_certificate", "hostnameincertificate",
                      "servercertificate", "serverspn", "multisubnetfailover", "applicationintent",
                      "connectretrycount", "connectretryinterval", "keepalive", "keepaliveinterval",
                      "ipaddresspreference", "packet size", "packetsize"}
_ALIASES = {"user": "UID", "user id": "UID", "username": "UID", "password": "PWD", "host": "Server",
            "address": "Server", "addr": "Server", "initial catalog": "Database"}


@dataclass
class MssqlConn:
    """Ordered ODBC keywords (their spelling kept); lookups are case-insensitive."""

    pairs: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        for k, v in self.pairs.items():
            if k.lower() == key.lower():
                return v
        return None

    def set(self, key: str, value: str) -> None:
        for k in list(self.pairs):
            if k.lower() == key.lower():
                self.pairs[k] = value
                return
        self.pairs[key] = value

    def odbc_string(self) -> str:
        pairs = dict(self.pairs)
        if self.get("driver") is None and self.get("dsn") is None:
            pairs = {"Driver": DEFAULT_DRIVER, **pairs}
        return connection_string(pairs)

    def mssql_python_string(self) -> str:
        return connection_string({k: v for k, v in self.pairs.items() if k.lower() in _MSSQL_PYTHON_KEYS})

    def with_database(self, name: str) -> MssqlConn:
        copy = MssqlConn(dict(self.pairs))
        copy.set("Database", name)
        return copy

    def url(self) -> str:
        """A database.url that opens this same connection (a raw ODBC string)."""
        return self.odbc_string()

    def trusts_server_certificate(self) -> bool:
        return (self.get("TrustServerCertificate") or "").lower() in ("yes", "true", "1")

    def bcp_args(self) -> list[str]:
        """bcp's connection flags. The password goes on bcp's command line (-P): bcp has no other way."""
        args = ["-S", self.get("Server") or "localhost"]
        if self.get("Database"):
            args += ["-d", self.get("Database") or ""]
        if self.get("UID"):
            args += ["-U", self.get("UID") or "", "-P", self.get("PWD") or ""]
        elif (self.get("Trusted_Connection") or "").lower() == "yes":
            args += ["-T"]
        if self.trusts_server_certificate():
            args += ["-u"]
        return args


def parse_target(url: str) -> MssqlConn:
    """mssql+pyodbc://user:pass@host:1433/db?driver=…, mssql+pyodbc:///?odbc_connect=…, or KEY=value;…"""
    conn = _from_url(url) if "://" in url else MssqlConn(_canonical(parse_connection_string(url)))
    if conn.get("Encrypt") is None:
        conn.set("Encrypt", "yes")  # TLS by default; the user may say Encrypt=no (or optional) explicitly
    return conn


def _from_url(url: str) -> MssqlConn:
    parts = urlsplit(url)
    if parts.scheme not in ("mssql", "mssql+pyodbc"):
        raise ConfigError(f"expected an mssql+pyodbc:// URL, got scheme {parts.scheme!r}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    passthrough = next((v for k, v in query.items() if k.lower() == "odbc_connect"), None)
    if passthrough is not None:
        return MssqlConn(_canonical(parse_connection_string(passthrough)))
    pairs: dict[str, str] = {}
    driver = next((v for k, v in query.items() if k.lower() == "driver"), None)
    pairs["Driver"] = driver or DEFAULT_DRIVER
    host = parts.hostname or "localhost"
    pairs["Server"] = f"{host},{parts.port}" if parts.port else host
    if parts.path.strip("/"):
        pairs["Database"] = unquote(parts.path.strip("/"))
    if parts.username:
        pairs["UID"] = unquote(parts.username)
        pairs["PWD"] = unquote(parts.password or "")
    for key, value in query.items():
        if key.lower() != "driver":
            pairs[key] = value  # Encrypt, TrustServerCertificate, Authentication, ApplicationIntent…
    return MssqlConn(_canonical(pairs))


def _canonical(pairs: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs.items():
        out[_ALIASES.get(key.lower(), key)] = value
    return out
