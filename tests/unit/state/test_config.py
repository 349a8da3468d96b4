"""``state:`` in cloudctl.yaml and CLOUDCTL_STATE_URL: a directory or a postgresql:// URL,
never with a password in the file; URLs are shown without passwords."""

from __future__ import annotations

import pytest

from cloudctl.core.center import load_center
from cloudctl.core.errors import InputError
from cloudctl.state.url import check_url, redact_url


def write_center(root, state_line: str):
    root.mkdir(parents=True, exist_ok=True)
    (root / "cloudctl.yaml").write_text(f"name: x\n# the shared state\n{state_line}\n")
    return root


def test_a_directory_is_sqlite_as_before(tmp_path, monkeypatch):
    monkeypatch.delenv("CLOUDCTL_STATE_URL", raising=False)
    c = load_center(write_center(tmp_path / "c", "state: .state"))
    assert c.state_url is None and c.state == (tmp_path / "c" / ".state").resolve()


def test_a_url_without_password_is_the_shared_state(tmp_path, monkeypatch):
    monkeypatch.delenv("CLOUDCTL_STATE_URL", raising=False)
    url = "postgresql://ops@db.example:5432/cloudctl"
    c = load_center(write_center(tmp_path / "c", f"state: {url}"))
    assert c.state_url == url
    assert c.state == (tmp_path / "c" / ".cloudctl").resolve()  # artifacts, caches stay local


def test_a_password_in_the_file_is_an_input_error_at_its_line(tmp_path, monkeypatch, cli):
    monkeypatch.delenv("CLOUDCTL_STATE_URL", raising=False)
    root = write_center(tmp_path / "c", "state: postgresql://ops:S3cr3tPw@db:5432/cloudctl")
    with pytest.raises(InputError) as e:
        load_center(root)
    assert e.value.location.line == 3 and e.value.location.file.endswith("cloudctl.yaml")
    assert "password in cloudctl.yaml is refused" in e.value.message
    r = cli("--center", str(root), "--lang", "en", "state", "status")
    assert r.exit_code == 2
    assert "cloudctl.yaml:3: state: a password in cloudctl.yaml is refused" in r.output
    assert "S3cr3tPw" not in r.output
    root2 = write_center(tmp_path / "d", "state: postgresql://ops@db/cloudctl?password=S3cr3tPw")
    with pytest.raises(InputError, match="refused"):
        load_center(root2)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://db/x", "unsupported scheme"),
        ("postgresql://ops@db:5432", "no database name"),
        ("postgresql://ops@db:99999/x", "not a usable URL"),
    ],
)
def test_bad_urls_are_refused_with_their_reason(url, problem):
    assert problem in (check_url(url, from_file=True) or "")


def test_the_environment_wins_and_may_carry_the_password(tmp_path, monkeypatch):
    root = write_center(tmp_path / "c", "state: .cloudctl")
    monkeypatch.setenv("CLOUDCTL_STATE_URL", "postgresql://ops:pw@db/cloudctl")
    assert load_center(root).state_url == "postgresql://ops:pw@db/cloudctl"
    monkeypatch.setenv("CLOUDCTL_STATE_URL", str(tmp_path / "shared"))
    c = load_center(root)
    assert c.state_url is None and c.state == tmp_path / "shared"


def test_urls_are_shown_without_password():
    shown = redact_url("postgresql://ops:S3cr3t@db:5433/cloudctl?sslmode=require&password=x")
    assert "S3cr3t" not in shown and "password=%2A%2A%2A" in shown
    assert shown.startswith("postgresql://ops@db:5433/cloudctl?sslmode=require")
