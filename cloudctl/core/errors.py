"""One error type family, carrying source locations, that the CLI turns into
``file:line: message`` lines and exit code 2 (never a traceback)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cloudctl.core.i18n import _


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, where it is, in words a person can act on."""

    location: Location | None
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class CloudctlError(Exception):
    """Base of every expected error. ``exit_code`` follows the CLI convention (2 = input)."""

    exit_code = 2

    def __init__(self, message: str, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.location = location

    @property
    def problems(self) -> list[Problem]:
        return [Problem(self.location, self.message)]

    def __str__(self) -> str:
        return str(Problem(self.location, self.message))


class InputError(CloudctlError):
    """Bad input: a file, an option, a reference that does not resolve."""


class ValidationFailed(CloudctlError):
    """Many problems found at once; all of them are reported together."""

    def __init__(self, problems: Iterable[Problem], summary: str | None = None):
        probs = sorted(problems, key=_sort_key)
        self._problems = probs
        super().__init__(summary or _("{n} problem(s) found").format(n=len(probs)))

    @property
    def problems(self) -> list[Problem]:
        return list(self._problems)


class ExternalError(CloudctlError):
    """A system we drive (OpenStack, Ansible, the lab) failed (exit 2, like any error)."""


class ConflictError(CloudctlError):
    """Something else holds the resource (a lock, a running wave)."""


def _sort_key(p: Problem):
    loc = p.location or Location("")
    return (loc.file, loc.line or 0, p.message)
