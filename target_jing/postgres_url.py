"""PostgreSQL URLs as users write them: parsed once, shown without the password.

A URL may come in SQLAlchemy's form (`postgresql+psycopg://...`, as Meltano's
`MELTANO_DATABASE_URI` and target-postgres take it): libpq does not know the
driver suffix, so it is dropped, and one URL serves every step of a pipeline.
Parsing is psycopg's (`conninfo_to_dict`), so a libpq connection string
(`host=... dbname=...`) works too.
"""

from __future__ import annotations

import re

from jing_client.redact import register_secret

_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+[A-Za-z0-9_]+://")


class BadPostgresUrl(ValueError):
    """Not a PostgreSQL URL or connection string (the message never quotes it)."""


def libpq_url(url: str) -> str:
    """`url` without a SQLAlchemy driver suffix: `postgresql+psycopg://` -> `postgresql://`."""
    return _DRIVER_SUFFIX.sub(r"\1://", url.strip())


def url_parts(url: str) -> dict[str, str]:
    """The URL's parts as libpq reads them (user, password, host, port, dbname, ...)."""
    from psycopg.conninfo import conninfo_to_dict  # the postgres extra

    try:
        return {key: str(value) for key, value in conninfo_to_dict(libpq_url(url)).items()}
    except Exception:  # psycopg.ProgrammingError: it does not parse
        raise BadPostgresUrl("not a PostgreSQL URL or connection string") from None


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
