#!/usr/bin/python3
"""Print the file count and digest of a directory, computed as tinyweb's /healthz does."""

import hashlib
import json
import os
import sys

root = sys.argv[1]
h = hashlib.sha256()
count = 0
for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    for name in sorted(filenames):
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, root)
        with open(path, "rb") as fh:
            h.update(rel.encode() + b"\0" + hashlib.sha256(fh.read()).hexdigest().encode() + b"\n")
        count += 1
print(json.dumps({"files": count, "data_sha256": h.hexdigest()}))
