"""The tenant CLI without a configured cloud: a clear input error, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_no_cloud_configured_is_an_input_error_not_a_crash(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}  # no OS_* at all
    for args in (["tenant", "plan"], ["tenant", "drift"], ["ipam", "drift"]):
        p = subprocess.run(
            [sys.executable, "-m", "cloudctl", "--center", str(ROOT), "--lang", "en", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert "cannot choose a cloud" in p.stderr and "OS_CLOUD" in p.stderr, p.stderr
        assert "Traceback" not in p.stderr and "internal error" not in p.stderr
