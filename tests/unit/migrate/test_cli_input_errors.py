"""Journal and report mistakes: exit 2 with the path and what is wrong, no crash."""

from __future__ import annotations

import json


def test_journal_that_is_not_sqlite_or_is_a_directory(cli, sample_center, tmp_path):
    junk = tmp_path / "notdb"
    junk.write_text("not a database\n" * 50)
    for path, msg in ((junk, "not a usable SQLite state database"), (tmp_path, "is a directory")):
        r = cli(
            "--center",
            str(sample_center),
            "--lang",
            "en",
            "migrate",
            "history",
            "--journal",
            str(path),
        )
        assert r.exit_code == 2 and msg in r.output, r.output
    assert junk.read_text() == "not a database\n" * 50  # left as it was


def test_report_json_goes_to_out_and_a_broken_plan_is_an_error(cli, sample_center, tmp_path):
    out = tmp_path / "r.json"
    args = ["--center", str(sample_center), "--lang", "en", "migrate", "report"]
    r = cli(*args, "-f", "json", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["plan"] == "xiaogan-2016"
    (sample_center / "migration_plans" / "xiaogan-2016.yaml").write_text("[]\n")
    r = cli(*args)
    assert (
        r.exit_code == 2 and "xiaogan-2016.yaml:1: a migration plan must be a mapping" in r.output
    )


def test_reading_commands_never_create_a_mistyped_journal(cli, sample_center, tmp_path):
    typo = tmp_path / "shared" / "jounral.db"
    for cmd in ("history", "status", "report"):
        args = ("--center", str(sample_center), "--lang", "en", "migrate", cmd)
        r = cli(*args, "--journal", str(typo))
        assert r.exit_code == 2 and "no journal here" in r.output, (cmd, r.output)
    assert not typo.parent.exists()
