"""Where the center's shared state lives: a directory (SQLite, the default) or a
``postgresql://`` URL. Pure: parsing, checks and the text that may be shown.

Credentials never come from ``cloudctl.yaml``: libpq reads them from ``PGPASSWORD`` or
``~/.pgpass`` (``PGPASSFILE``). A URL that carries a password is refused when it comes
from the file, and every URL is shown without its password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cloudctl.core.i18n import _

SCHEMES = ("postgresql", "postgres")
ENV_VAR = "CLOUDCTL_STATE_URL"
_SECRET_PARAMS = {"password", "sslpassword", "passfile"}


@dataclass(frozen=True)
class StateTarget:
    """``url`` for PostgreSQL, else None (SQLite in the state directory)."""

    url: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.url is not None


def looks_like_url(value: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value))


def check_url(value: str, *, from_file: bool, source: str = "cloudctl.yaml") -> str | None:
    """The problem with a state URL, in words, or None. ``from_file``: it was written
    where a password is never accepted (cloudctl.yaml, a command line: ``source``)."""
    try:
        u = urlsplit(value)
        u.port  # noqa: B018 - raises on a bad port
    except ValueError as e:
        return _("not a usable URL ({error})").format(error=e)
    if u.scheme not in SCHEMES:
        return _(
            "unsupported scheme {scheme!r}: a directory or postgresql://USER@HOST:PORT/DB"
        ).format(scheme=u.scheme)
    params = {k.lower() for k, _v in parse_qsl(u.query, keep_blank_values=True)}
    if from_file and (u.password is not None or params & {"password", "sslpassword"}):
        return _(
            "a password in {source} is refused (it would be shared, versioned or recorded): "
            "remove it and set PGPASSWORD or use ~/.pgpass"
        ).format(source=source)
    if not (u.path or "").strip("/"):
        return _("no database name: postgresql://USER@HOST:PORT/DATABASE")
    return None


def redact_url(url: str) -> str:
    """The URL without a password (user, host, port, database and harmless options)."""
    try:
        u = urlsplit(url)
        host = u.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = (f"{u.username}@" if u.username else "") + host
        if u.port:
            netloc += f":{u.port}"
    except ValueError:
        return "postgresql://(unparsable URL)"
    query = urlencode(
        [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in parse_qsl(u.query)]
    )
    return urlunsplit((u.scheme, netloc, u.path, query, ""))
