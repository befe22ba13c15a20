"""Passwords never reach a message: found by parsing the database URL, then hidden wherever they appear.

A regex over the URL string guessed where the password ends and got it wrong for passwords holding
`?` or `#`, and a mistyped URL (`postgresql:u:pw@host/db`) went to the driver, whose error message
quoted it whole. So the URL is split into its parts the way the drivers read it (libpq takes
everything up to the last `@` before the host as user and password, `?` and `#` included), and the
result is used twice: `redact_url` prints the URL rebuilt from its parts with the secret replaced,
and `scrub` removes the secret's every spelling (as typed, URL-decoded, URL-encoded) from any text —
driver errors, tracebacks, log lines — so a message can be wrong but never leak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

MASK = "***"
_SECRET_KEYS = ("pwd", "password")  # ODBC and libpq keywords, in query strings and ODBC strings


@dataclass(frozen=True)
class Part:
    text: str
    secret: bool = False


def parse(url: str) -> list[Part]:
    """The URL as parts; joining their texts gives the URL back. Secret parts are the passwords."""
    scheme, sep, rest = url.partition(":")
    if not sep or "=" in scheme or ";" in scheme:  # KEY=value;… : an ODBC connection string
        return _odbc(url)
    slashes = "//" if rest.startswith("//") else ""
    rest = rest[len(slashes):]
    parts = [Part(scheme + sep + slashes)]
    at = _userinfo_end(rest)
    if at >= 0:
        user, colon, password = rest[:at].partition(":")
        parts += [Part(user + colon)] + ([Part(password, secret=True)] if colon else []) + [Part("@")]
        rest = rest[at + 1:]
    where, q, query = rest.partition("?")
    parts.append(Part(where + q))
    return parts + (_query(query) if q else [])


# a host (name, IPv4, [IPv6]) with an optional numeric port, then the path, query, next host or end
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]*)(?::\d*)?(?=[/?,#]|$)")


def _userinfo_end(rest: str) -> int:
    """The '@' that ends user:password: the first one followed by a host[:port]. A password may hold
    '?', '#', ':', '/' or '@' (libpq reads it so), which a split at the first '/' or '?' gets wrong."""
    i = rest.find("@")
    while i >= 0:
        if _HOST.match(rest, i + 1):
            return i
        i = rest.find("@", i + 1)
    return -1


def _query(query: str) -> list[Part]:
    out: list[Part] = []
    for i, item in enumerate(query.split("&")):
        key, eq, value = item.partition("=")
        out.append(Part(("&" if i else "") + key + eq))
        if key.lower() in _SECRET_KEYS:
            out.append(Part(value, secret=True))
        elif key.lower() == "odbc_connect":  # a URL-encoded ODBC string: PWD%3Dsecret%3B…
            out += [Part(quote(p.text, safe="{}"), p.secret) for p in _odbc(unquote(value))]
        else:
            out.append(Part(value))
    return out


def _odbc(text: str) -> list[Part]:
    """KEY=value;KEY={braced;value};… as parts; a braced value ends at a single '}' ('}}' is one '}')."""
    out: list[Part] = []
    i = 0
    while i < len(text):
        eq = text.find("=", i)
        if eq < 0:
            out.append(Part(text[i:]))
            break
        key = text[i:eq]
        end = _value_end(text, eq + 1)
        out.append(Part(key + "="))
        out.append(Part(text[eq + 1:end], secret=key.strip().lower() in _SECRET_KEYS))
        if end < len(text):
            out.append(Part(";"))
        i = end + 1
    return out


def _value_end(text: str, start: int) -> int:
    if text.startswith("{", start):
        i = start + 1
        while i < len(text):
            if text[i] == "}":
                if text.startswith("}}", i):
                    i += 2
                    continue
                return text.find(";", i) if ";" in text[i:] else len(text)
            i += 1
        return len(text)
    end = text.find(";", start)
    return end if end >= 0 else len(text)


def redact_url(url: str) -> str:
    """The URL rebuilt from its parts, every password replaced by ***."""
    return "".join(MASK if p.secret and p.text else p.text for p in parse(url))


def secrets_of(url: str) -> list[str]:
    """Every spelling of every password in the URL, longest first (so a longer one is hidden whole)."""
    found = set()
    for p in parse(url):
        if p.secret and p.text:
            value = p.text[1:-1].replace("}}", "}") if p.text.startswith("{") else p.text
            found |= {p.text, value, unquote(value), quote(value, safe=""), quote(unquote(value), safe="")}
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every secret replaced by ***: for driver errors and tracebacks that quote a URL."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
