"""An explicit --os-config-file wins over OS_CLIENT_CONFIG_FILE (openstacksdk would put the
variable's file first and silently talk to another cloud)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_os_config_file_option_beats_the_environment(lab, tmp_path):
    other = tmp_path / "other-clouds.yaml"
    other.write_text(
        "clouds:\n  lab:\n    auth: {auth_url: 'http://127.0.0.1:9/v3', username: x, "
        "password: y, project_name: z, user_domain_name: Default, "
        "project_domain_name: Default}\n"
    )
    env = {"PATH": "/usr/bin:/bin", "OS_CLIENT_CONFIG_FILE": str(other), "OS_CLOUD": "lab"}
    cmd = [sys.executable, "-m", "cloudctl", "--center", str(ROOT), "--lang", "en", "tenant"]
    good = subprocess.run(
        [*cmd, "drift", "czj", "--os-config-file", str(lab.clouds_yaml), "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert good.returncode in (0, 1), good.stderr
    bad = subprocess.run(
        [*cmd, "drift", "czj", "-o", "json"], capture_output=True, text=True, env=env, timeout=120
    )
    assert bad.returncode not in (0, 1)  # the variable's (unreachable) cloud when no option
