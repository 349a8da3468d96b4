"""Extract NetBox's bulk-import columns (and which are required) from its source, per tag.

Run by hand against a NetBox git checkout; writes netbox_import_forms.json next to this file:

    python tests/unit/ipam/data/extract_netbox_forms.py NETBOX_GIT_DIR \
        v3.7.8 v4.0.11 v4.1.11 v4.2.9 v4.3.7 v4.4.10 v4.5.10 v4.6.8

What it reads (plain ``ast``, nothing of NetBox is imported):
- ``<app>/forms/bulk_import.py``: each import form's ``Meta.fields`` (the accepted CSV
  headers; CSVModelForm.clean refuses any other header) and the form fields it or its base
  forms declare, with their ``required=`` (a Django form field is required unless told not).
- For a column the form does not declare, the model field: required unless ``blank=True``
  or a BooleanField (Django's ``Field.formfield`` uses ``required = not blank``; a
  BooleanField form field is never required).
The result is a fact sheet (column names, required flags, tag, commit), not NetBox code.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

FORMS = {
    "tag": ("extras", "TagImportForm"),
    "rir": ("ipam", "RIRImportForm"),
    "aggregate": ("ipam", "AggregateImportForm"),
    "role": ("ipam", "RoleImportForm"),
    "tenant_group": ("tenancy", "TenantGroupImportForm"),
    "tenant": ("tenancy", "TenantImportForm"),
    "vrf": ("ipam", "VRFImportForm"),
    "vlan_group": ("ipam", "VLANGroupImportForm"),
    "vlan": ("ipam", "VLANImportForm"),
    "prefix": ("ipam", "PrefixImportForm"),
    "ip_range": ("ipam", "IPRangeImportForm"),
    "ip_address": ("ipam", "IPAddressImportForm"),
}
FORM_FILES = [
    "netbox/{app}/forms/bulk_import.py",
    "netbox/netbox/forms/base.py",
    "netbox/netbox/forms/bulk_import.py",
    "netbox/netbox/forms/mixins.py",
    "netbox/utilities/forms/forms.py",
    "netbox/dcim/forms/mixins.py",
]
# Model fields inherited from outside NetBox: django-taggit's TagBase (name, slug: no blank).
EXTERNAL_REQUIRED = {"TagBase": {"name": True, "slug": True}}
MODEL_DIRS = [
    "netbox/ipam/models",
    "netbox/tenancy/models",
    "netbox/extras/models",
    "netbox/netbox/models",
    "netbox/users/models",
    "netbox/dcim/models/mixins.py",
]


def git(repo: str, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", repo, *args], check=True, capture_output=True, text=True
    ).stdout


def classes(source: str) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}


def base_names(c: ast.ClassDef) -> list[str]:
    out = []
    for b in c.bases:
        if isinstance(b, ast.Name):
            out.append(b.id)
        elif isinstance(b, ast.Attribute):
            out.append(b.attr)
    return out


def call_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name and isinstance(k.value, ast.Constant):
            return k.value.value
    return None


def assigned_calls(c: ast.ClassDef) -> dict[str, ast.Call]:
    out = {}
    for n in c.body:
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call):
            for t in n.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = n.value
    return out


def meta(c: ast.ClassDef) -> tuple[list[str], str]:
    for n in c.body:
        if isinstance(n, ast.ClassDef) and n.name == "Meta":
            fields, model = [], ""
            for a in n.body:
                if isinstance(a, ast.Assign) and isinstance(a.targets[0], ast.Name):
                    if a.targets[0].id == "fields":
                        fields = [e.value for e in a.value.elts]  # type: ignore[attr-defined]
                    elif a.targets[0].id == "model":
                        model = a.value.id  # type: ignore[attr-defined]
            return fields, model
    raise SystemExit(f"{c.name}: no Meta")


def walk(name: str, pool: dict[str, ast.ClassDef]):
    """The class and its bases found in ``pool``, nearest first (a simple MRO)."""
    seen, order, todo = set(), [], [name]
    while todo:
        n = todo.pop(0)
        if n in seen or n not in pool:
            continue
        seen.add(n)
        order.append(pool[n])
        todo.extend(base_names(pool[n]))
    return order


def extract(repo: str, tag: str) -> dict:
    def read(path: str) -> str | None:
        try:
            return git(repo, "show", f"{tag}:{path}")
        except subprocess.CalledProcessError:
            return None

    models: dict[str, ast.ClassDef] = {}
    for d in MODEL_DIRS:
        if d.endswith(".py"):
            if src := read(d):
                models.update(classes(src))
            continue
        listing = (
            git(repo, "ls-tree", "--name-only", f"{tag}:{d}/") if read(d + "/__init__.py") else ""
        )
        for f in listing.split():
            if f.endswith(".py") and (src := read(f"{d}/{f}")):
                models.update(classes(src))
    out = {}
    for key, (app, form_name) in FORMS.items():
        forms: dict[str, ast.ClassDef] = {}
        for pattern in FORM_FILES:
            if src := read(pattern.format(app=app)):
                for k, v in classes(src).items():
                    forms.setdefault(k, v)
        chain = walk(form_name, forms)
        fields, model = meta(chain[0])
        declared: dict[str, bool] = {}
        for c in reversed(chain):  # nearest class wins
            for fname, call in assigned_calls(c).items():
                req = kw(call, "required")
                declared[fname] = True if req is None else bool(req)
        mchain = walk(model, models)
        columns = {}
        for f in fields:
            if f in declared:
                columns[f] = declared[f]
                continue
            for c in mchain:
                call = assigned_calls(c).get(f)
                if call is not None:
                    columns[f] = not (
                        kw(call, "blank") is True or call_name(call) == "BooleanField"
                    )
                    break
            else:
                ext = [
                    EXTERNAL_REQUIRED[b]
                    for c in mchain
                    for b in base_names(c)
                    if b in EXTERNAL_REQUIRED and f in EXTERNAL_REQUIRED[b]
                ]
                if ext:
                    columns[f] = ext[0][f]
                    continue
                raise SystemExit(f"{tag} {form_name}: cannot resolve column {f!r}")
        out[key] = {
            "form": f"netbox/{app}/forms/bulk_import.py:{form_name}",
            "columns": fields,
            "required": [f for f in fields if columns[f]],
        }
    return out


def utilization_filter(repo: str, tag: str) -> bool:
    """Whether ``Prefix.get_utilization`` (netbox/ipam/models/ip.py) filters the child ranges
    on ``mark_utilized`` (4.3+) or counts every range (up to 4.2)."""
    tree = ast.parse(git(repo, "show", f"{tag}:netbox/ipam/models/ip.py"))
    prefix = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Prefix")
    fn = next(
        n for n in prefix.body if isinstance(n, ast.FunctionDef) and n.name == "get_utilization"
    )
    return any(isinstance(n, ast.keyword) and n.arg == "mark_utilized" for n in ast.walk(fn))


def main() -> None:
    repo, tags = sys.argv[1], sys.argv[2:]
    doc = {
        "source": "https://github.com/netbox-community/netbox",
        "how": "tests/unit/ipam/data/extract_netbox_forms.py (ast over the import forms/models)",
        "versions": {},
    }
    for tag in tags:
        commit = git(repo, "rev-parse", f"{tag}^{{commit}}").strip()
        doc["versions"][tag] = {
            "commit": commit,
            "forms": extract(repo, tag),
            # Prefix.get_utilization: do only ranges with mark_utilized count (else all)?
            "utilization_ranges_need_mark_utilized": utilization_filter(repo, tag),
        }
    target = Path(__file__).with_name("netbox_import_forms.json")
    target.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
