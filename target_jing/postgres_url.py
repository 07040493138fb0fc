"""PostgreSQL URLs as users write them: parsed once, shown without the password.

A URL may come in SQLAlchemy's form (`postgresql+psycopg://...`, as Meltano's
`MELTANO_DATABASE_URI` and target-postgres take it): libpq does not know the
driver suffix, so it is dropped, and one URL serves every step of a pipeline.
Parsing is psycopg's (`conninfo_to_dict`), so a libpq connection string
(`host=... dbname=...`) works too.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from jing_client.redact import register_secret

_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+[A-Za-z0-9_]+://")
#: A URL's authority (user:password@host:port), up to the path.
_AUTHORITY = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<authority>[^/?#]*)")
#: A keyword string's password, as written: quoted (with backslash escapes) or bare.
_KEYWORD_PASSWORD = re.compile(r"\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


class BadPostgresUrl(ValueError):
    """Not a PostgreSQL URL or connection string (the message never quotes it)."""


def libpq_url(url: str) -> str:
    """`url` without a SQLAlchemy driver suffix: `postgresql+psycopg://` -> `postgresql://`."""
    return _DRIVER_SUFFIX.sub(r"\1://", url.strip())


def url_parts(url: str) -> dict[str, str]:
    """The URL's parts as libpq reads them (user, password, host, port, dbname, ...).

    Every spelling of the password is registered as a secret first (`register_password`),
    and a URL whose password holds a raw `@` is refused: libpq would read the rest of
    the password as the host, and print it in its error.
    """
    from psycopg.conninfo import conninfo_to_dict  # the postgres extra

    register_password(url)
    authority = _AUTHORITY.match(libpq_url(url))
    if authority and authority["authority"].count("@") > 1:
        raise BadPostgresUrl(
            "its password holds a raw '@': percent-encode it in the URL (@ as %40), or "
            "give the password in PGPASSWORD"
        )
    try:
        parts = {key: str(value) for key, value in conninfo_to_dict(libpq_url(url)).items()}
    except Exception:  # psycopg.ProgrammingError: it does not parse
        raise BadPostgresUrl("not a PostgreSQL URL or connection string") from None
    register_password_text(parts.get("password"))
    return parts


def register_password(url: str) -> None:
    """Register every spelling of the password in `url` before anything can print it.

    A URL's password is written percent-encoded, or raw; a keyword string's is bare or
    quoted with backslash escapes; a driver may quote any of those, or the decoded one.
    """
    text = libpq_url(url)
    authority = _AUTHORITY.match(text)
    if authority and "@" in authority["authority"]:
        userinfo = authority["authority"].rsplit("@", 1)[0]
        if ":" in userinfo:
            written = userinfo.split(":", 1)[1]
            register_password_text(written)
            register_password_text(unquote(written))
            for piece in written.split("@"):  # what a parser that stops at an '@' shows
                register_secret(piece)
    for found in _KEYWORD_PASSWORD.finditer(text):
        written = found.group(1)
        register_secret(written)
        if written.startswith("'") and written.endswith("'"):
            register_password_text(re.sub(r"\\(.)", r"\1", written[1:-1]))


def register_password_text(password: str | None) -> None:
    """A password and its percent-encoded spelling (as a URL carries it)."""
    if not password:
        return
    register_secret(password)
    register_secret(quote(password, safe=""))


def password_of(url: str) -> str | None:
    return url_parts(url).get("password")


def secret_libpq_url(url: str) -> str:
    """`url` for libpq, its password registered as a secret first (before anything can
    print it: a driver's connection error may quote the whole URL)."""
    register_secret(password_of(url))
    return libpq_url(url)


def shown(url: str) -> str:
    """`postgresql://user@host:port/database`: what a summary or a log may show."""
    parts = url_parts(url)
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


def is_postgres_url(text: str) -> bool:
    """Whether a setting's value names a PostgreSQL database rather than a DuckDB file."""
    return text.startswith(("postgresql:", "postgres:", "postgresql+", "postgres+"))


def needs_postgres_extra(setting: str) -> str:
    """What to install for `setting` to work."""
    return (
        f"setting '{setting}' needs the postgres extra: "
        "pip install 'jing-connectors[target,postgres]'"
    )
