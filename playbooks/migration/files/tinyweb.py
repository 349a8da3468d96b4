#!/usr/bin/python3
"""A tiny department web app for migration rehearsals: serves the files of a data
directory and answers /healthz with the host, the file count and a digest of the data,
so a check can prove the data on the target is the data of the source."""

import argparse
import hashlib
import http.server
import json
import os
import socket


def digest(root):
    h = hashlib.sha256()
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            with open(path, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            h.update(rel.encode() + b"\0" + digest.encode() + b"\n")
            count += 1
    return count, h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--data", required=True)
    ap.add_argument("--name", default="app")
    args = ap.parse_args()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=args.data, **kw)

        def do_GET(self):
            if self.path == "/healthz":
                count, dig = digest(args.data)
                body = json.dumps(
                    {
                        "status": "ok",
                        "app": args.name,
                        "host": socket.gethostname(),
                        "files": count,
                        "data_sha256": dig,
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, fmt, *a):
            pass

    http.server.ThreadingHTTPServer((args.bind, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
