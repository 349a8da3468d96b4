"""Initial passwords of tenant users: where they may come from, and the center's policy.

A tenant file may name an environment variable for a user's password (``password_env``).
Tenant files are written by departments, so only variables with the prefix
:data:`ENV_PREFIX` are read: a file naming ``HOME`` or ``OS_PASSWORD`` must not turn the
controller's environment into a user's password. Every password, given or generated,
meets the center's password policy: the same minimum length and number of character
classes that the MLPS baseline demands of hosts (``password_min_length`` and
``password_min_class`` in ``policies/mlps-l3/profile.yaml``; pam_pwquality's ``minlen``
and ``minclass``), read from there so the numbers live in one place.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import string
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from cloudctl.core.errors import CloudctlError, InputError, Location
from cloudctl.core.fileio import atomic_write, file_lock
from cloudctl.core.i18n import _

#: Only environment variables with this prefix can hold a tenant user's password.
ENV_PREFIX = "CLOUDCTL_PW_"
ENV_NAME_RE = re.compile(rf"^{ENV_PREFIX}[A-Z0-9_]+$")
#: The baseline profile whose password variables are the center's password policy.
POLICY_PROFILE = "mlps-l3"
SECRETS_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class PasswordPolicy:
    """pam_pwquality's ``minlen`` and ``minclass`` (classes: digits, upper, lower, other)."""

    min_length: int
    min_class: int
    source: str = ""

    def problems(self, password: str) -> list[str]:
        """What is wrong with ``password`` (never the password itself)."""
        out = []
        if len(password) < self.min_length:
            out.append(f"shorter than {self.min_length} characters")
        n = char_classes(password)
        if n < self.min_class:
            out.append(
                f"{n} character class(es), the policy needs {self.min_class} of 4 "
                "(digits, upper case, lower case, other)"
            )
        return out


def char_classes(password: str) -> int:
    return sum(
        (
            any(c.isdigit() for c in password),
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def load_policy(policies_dir: Path) -> PasswordPolicy:
    """The policy from the baseline profile's variables (errors name the profile file)."""
    from cloudctl.baseline.catalog import load_profile

    profile = load_profile(policies_dir, POLICY_PROFILE)
    where = Location(str(profile.path))
    values = {}
    for name in ("password_min_length", "password_min_class"):
        var = profile.variables.get(name)
        value = var.default if var is not None else None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(
                _(
                    "variables.{name}: expected a whole number (the center's password policy)"
                ).format(name=name),
                where,
            )
        values[name] = value
    if values["password_min_class"] > 4:
        raise InputError(_("variables.password_min_class: at most 4 classes exist"), where)
    return PasswordPolicy(values["password_min_length"], values["password_min_class"], str(where))


def generate(policy: PasswordPolicy) -> str:
    """A random password that meets ``policy`` (at least 24 characters)."""
    alphabet = string.ascii_letters + string.digits + "-_.:+=%"
    length = max(24, policy.min_length)
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if not policy.problems(pw):
            return pw


def env_name_problem(name: object) -> str | None:
    """Why ``name`` may not be used as ``password_env`` (None when it may)."""
    if not isinstance(name, str) or not ENV_NAME_RE.match(name):
        return (
            f"password_env: only environment variables named {ENV_PREFIX}<NAME> "
            "(upper case, digits, _) may hold a password"
        )
    return None


class PasswordStore:
    """Initial passwords: from the user's ``CLOUDCTL_PW_*`` variable, else generated once
    and kept in a file readable by root only (so the operator can hand it over).

    Never printed; an error about the file never quotes it (a damaged line may hold a
    password), it names the file only.
    """

    def __init__(self, path: Path, policy_loader=None):
        self.path = path
        self._lock = threading.Lock()
        self._policy_loader = policy_loader
        self._policy: PasswordPolicy | None = None

    @property
    def policy(self) -> PasswordPolicy:
        if self._policy is None:
            if self._policy_loader is None:
                raise CloudctlError(_("internal: no password policy"))
            self._policy = self._policy_loader()
        return self._policy

    def _damaged(self, why: str) -> InputError:
        return InputError(
            _(
                "the tenant secrets file is damaged ({why}); its "
                "content is not shown. Repair it by hand or move it "
                "away (new passwords are then generated)"
            ).format(why=why),
            Location(str(self.path)),
        )

    def _read(self) -> dict[str, str]:
        try:
            st = self.path.lstat()
        except FileNotFoundError:
            return {}
        if not stat.S_ISREG(st.st_mode):
            raise self._damaged("not a regular file")
        if st.st_size > SECRETS_MAX_BYTES:
            raise self._damaged("too large")
        try:
            text = self.path.read_text(encoding="utf-8")
            data = yaml.safe_load(text)
        except UnicodeDecodeError:
            raise self._damaged("not UTF-8 text") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f"line {mark.line + 1}" if mark is not None else "malformed YAML"
            raise self._damaged(f"not valid YAML at {line}") from None
        except OSError as e:
            raise self._damaged(f"cannot read: {e.strerror}") from None
        if data is None:
            return {}
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise self._damaged("expected user: password lines")
        return dict(data)

    def check_file(self) -> None:
        """Fail before the first change when the secrets file cannot be used."""
        self._read()

    def env_password(self, user: str, env_var: str | None) -> str | None:
        """The password from the user's variable, checked; None when none is set."""
        if not env_var:
            return None
        bad = env_name_problem(env_var)
        if bad:
            raise InputError(_("user {user}: {bad}").format(user=user, bad=bad))
        value = os.environ.get(env_var)
        if not value:
            return None
        probs = self.policy.problems(value)
        if probs:
            raise InputError(
                f"user {user}: the password in {env_var} does not meet the center's password "
                f"policy ({self.policy.source}): " + "; ".join(probs)
            )
        return value

    def password_for(self, user: str, env_var: str | None = None) -> str:
        given = self.env_password(user, env_var)
        if given is not None:
            return given
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        with self._lock, file_lock(self.path, what="the tenant secrets file"):
            known = self._read()
            if user in known and not self.policy.problems(known[user]):
                return known[user]
            known[user] = generate(self.policy)  # new, or one kept from a weaker policy
            text = "# initial passwords of tenant users (cloudctl tenant apply); keep secret\n"
            text += yaml.safe_dump(known, sort_keys=True)
            atomic_write(self.path, text, mode=0o600)
            return known[user]
