#!/usr/bin/python3
"""Point service names at hosts in the records file (`<planned address> <name> # <host>`),
all of a batch's systems in one go: the file is locked (flock on <file>.lock) and replaced
atomically, so two ansible-playbook runs that switch names at the same time (two batches,
or a batch and a single system) never lose each other's lines.
Usage: names.py FILE JSON  (JSON: a list of [address, name, host])."""

import fcntl
import json
import os
import re
import sys
import tempfile


def main():
    path, records = sys.argv[1], json.loads(sys.argv[2])
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            lines = []
        before = list(lines)
        for address, name, host in records:
            line = f"{address} {name} # {host}"
            pattern = re.compile(r"^\S+\s+" + re.escape(name) + r"(\s|$)")
            hits = [i for i, old in enumerate(lines) if pattern.match(old)]
            if hits:
                lines[hits[-1]] = line
            else:
                lines.append(line)
        if lines != before:
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".names-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    print("changed" if lines != before else "unchanged")


if __name__ == "__main__":
    main()
