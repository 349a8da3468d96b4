"""Filters of the baseline playbooks.

``mlps_host_record`` (check.yml) turns one registered module result into an evidence record.

``mlps_stricter`` (remediate.yml) decides the value a remediation writes so that it never
weakens a setting: a value that already meets the requirement is kept as it is; one that
does not is moved to the target, combined with the current value where that matters (a
file mode only ever loses bits, a umask only gains them). Plain functions, standard
library only: Ansible loads this file without cloudctl, and the unit tests import it.
"""

import re

# Values that mean "not set" in the files remediation reads.
_UNSET = ("", None)


def _num(value):
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _octal(value):
    try:
        return int(str(value).strip(), 8)
    except (TypeError, ValueError):
        return None


def _rank(value, order):
    """Rank of ``value`` in ``order`` (a list of values or of lists of equally strict
    values, weakest first); -1 when it is not listed (unknown counts as weakest)."""
    v = str(value).strip().lower()
    for i, group in enumerate(order):
        members = group if isinstance(group, (list, tuple)) else [group]
        if v in [str(m).lower() for m in members]:
            return i
    return -1


def meets(current, rule):
    """Does ``current`` already satisfy ``rule``? (the same comparison as the check)"""
    op = rule.get("op", "eq")
    target = rule.get("value")
    if current in _UNSET:
        return False
    cur = str(current).strip()
    if cur in [str(a) for a in rule.get("accept") or []]:
        return True
    if op in ("le", "ge", "between"):
        n, t = _num(cur), _num(target)
        if n is None or t is None:
            return False
        lo = _num(rule.get("min"))
        if op == "ge":
            return n >= t
        return n <= t and (lo is None or n >= lo)
    if op == "mode":  # no permission bit beyond the target's
        c, t = _octal(cur), _octal(target)
        return c is not None and t is not None and c & ~t == 0
    if op == "umask":  # at least the target's bits masked
        c, t = _octal(cur), _octal(target)
        return c is not None and t is not None and c & t == t
    if op == "order":
        order = rule.get("order") or []
        return _rank(cur, order) >= max(_rank(target, order), 0)
    if op == "in":
        return cur.lower() in [str(x).lower() for x in rule.get("allowed") or [target]]
    if op == "not_in":
        return cur.lower() not in [str(x).lower() for x in rule.get("allowed") or []]
    if op == "set":
        return bool(cur)
    if op == "forbid":
        items = [x for x in re.split(r"[,\s]+", cur) if x]
        return bool(items) and not any(re.search(str(rule.get("pattern")), x) for x in items)
    return cur.lower() == str(target).strip().lower()


def mlps_stricter(current, target, rule=None):
    """The value to write: ``current`` if it already meets ``rule``, else the target,
    never looser than ``current`` (modes lose bits only, umasks gain them only, ordered
    values never move down the order)."""
    rule = dict(rule or {})
    rule.setdefault("value", target)
    if meets(current, rule):
        return str(current).strip()
    op = rule.get("op", "eq")
    cur = "" if current is None else str(current).strip()
    if op == "mode":
        c, t = _octal(cur), _octal(target)
        if c is not None and t is not None:
            return "%04o" % (c & t)
    if op == "umask":
        c, t = _octal(cur), _octal(target)
        if c is not None and t is not None:
            return "%03o" % (c | t)
    order = rule.get("order")
    if order and cur and _rank(cur, order) > _rank(target, order):
        return cur  # failing, yet stricter than the target by the setting's own order
    return str(target)


def mlps_keyval(content, key, sep="space", case_insensitive=False):
    """The value of ``key`` in a ``key value`` (sep "space") or ``key = value`` (sep
    containing "=") file; the last one wins, as in login.defs, pwquality.conf, auditd.conf.
    None when the key is absent."""
    if content is None:
        return None
    found = None
    want = key.lower() if case_insensitive else key
    for line in str(content).splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if "=" in sep:
            k, eq, v = text.partition("=")
            if not eq:
                continue
        else:
            parts = text.split(None, 1)
            k, v = parts[0], parts[1] if len(parts) > 1 else ""
        v = v.split(" #", 1)[0]
        k = k.strip()
        if (k.lower() if case_insensitive else k) == want:
            found = v.strip()
    return found


def mlps_sshd_value(sshd_t_output, key):
    """One keyword's value from ``sshd -T`` output (keywords are lower case there)."""
    want = key.lower()
    for line in str(sshd_t_output or "").splitlines():
        parts = line.split(None, 1)
        if parts and parts[0].lower() == want:
            return parts[1].strip() if len(parts) > 1 else ""
    return None


def mlps_meets(current, rule):
    """Filter form of :func:`meets` (``when: not (value | mlps_meets(rule))``)."""
    return meets(current, dict(rule or {}))


def mlps_modes_from_stat(text):
    """``stat -c '%a %n'`` output -> {path: "0640"}."""
    out = {}
    for line in str(text or "").splitlines():
        mode, _, path = line.strip().partition(" ")
        if path and mode.isdigit():
            out[path] = f"{int(mode, 8):04o}"
    return out


def mlps_host_record(res):
    if not isinstance(res, dict):
        return {"status": "failed", "error": "no result"}
    if res.get("unreachable"):
        return {"status": "unreachable", "error": str(res.get("msg", ""))[:500]}
    if res.get("failed") or "evidence" not in res:
        return {
            "status": "failed",
            "error": str(res.get("msg") or res.get("module_stderr") or "")[:500],
        }
    return {"status": "ok", "evidence": res["evidence"]}


class FilterModule:
    def filters(self):
        return {
            "mlps_host_record": mlps_host_record,
            "mlps_stricter": mlps_stricter,
            "mlps_keyval": mlps_keyval,
            "mlps_sshd_value": mlps_sshd_value,
            "mlps_meets": mlps_meets,
            "mlps_modes_from_stat": mlps_modes_from_stat,
        }
