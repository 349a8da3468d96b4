"""The OpenStack half of the lab: Keystone, Neutron and the Nova and Cinder APIs from
pinned PyPI packages, each served by gunicorn on 127.0.0.1 with one worker and one thread
(SQLite answers "database is locked" to concurrent writers), on SQLite databases."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import jinja2

from cloudctl.core.errors import ExternalError
from cloudctl.core.fileio import atomic_write, file_lock
from cloudctl.core.i18n import _
from cloudctl.lab import procs
from cloudctl.lab.model import ADMIN_USER, KEYSTONE_URL, REGION, SERVICES, ServiceSpec, fingerprint
from cloudctl.lab.paths import LabPaths

FILES = resources.files("cloudctl.lab") / "files"
SERVICE_PROJECT = "service"


def files_text(name: str) -> str:
    return (FILES / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------- the services' venv


def services_python() -> str:
    """The interpreter that builds the services' venv: cloudctl's own base Python (>= 3.12)."""
    return getattr(sys, "_base_executable", None) or sys.executable


@functools.cache
def _python_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True
    ).stdout.strip()


def venv_dir(paths: LabPaths, python: str | None = None) -> Path:
    version = _python_version(python or services_python())
    key = fingerprint(files_text("requirements-lock.txt"), version)
    return paths.cache / f"services-venv-{key}"


def usable_venv(paths: LabPaths, preferred: str | None = None) -> Path | None:
    """A complete cached venv built from the current lock file, whatever Python built it:
    the ``preferred`` one (what the running lab uses), else this Python's, else any. So
    cloudctl run from venvs of different Pythons never restarts the services for that."""
    lock = files_text("requirements-lock.txt")
    found = []
    for venv in sorted(paths.cache.glob("services-venv-*")):
        req = venv.parent / f"{venv.name}.requirements.txt"
        if not (venv / ".cloudctl-complete").exists() or not req.exists():
            continue
        if req.read_text() == lock:
            found.append(venv)
    if not found:
        return None
    for want in (preferred, str(venv_dir(paths))):
        for v in found:
            if str(v) == want:
                return v
    return found[0]


def ensure_venv(
    paths: LabPaths, on_build: Callable[[], None] | None = None, preferred: str | None = None
) -> Path:
    """The services' venv, built once from the lock file and cached (keyed by lock + Python)."""
    have = usable_venv(paths, preferred)
    if have is not None:
        return have
    python = services_python()
    venv = venv_dir(paths, python)
    done = venv / ".cloudctl-complete"
    paths.cache.mkdir(parents=True, exist_ok=True)
    with file_lock(paths.cache / "services-venv", timeout=1800, what="services venv build"):
        if done.exists():
            return venv
        if on_build:
            on_build()
        log = paths.logs / "build-services-venv.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(venv, ignore_errors=True)
        lock = venv.parent / f"{venv.name}.requirements.txt"
        lock.write_text(files_text("requirements-lock.txt"))
        steps = [
            [python, "-m", "venv", str(venv)],
            [str(venv / "bin/pip"), "install", "-q", "--no-input", "-r", str(lock)],
            [str(venv / "bin/pip"), "check"],
        ]
        with open(log, "w") as out:
            for argv in steps:
                out.write(f"$ {' '.join(argv)}\n")
                out.flush()
                r = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT)
                if r.returncode != 0:
                    raise ExternalError(
                        _(
                            "building the services' venv failed ({argv} exit {returncode}); "
                            "see {log}"
                        ).format(argv=argv[0], returncode=r.returncode, log=log),
                    )
        done.write_text(time.strftime("%F %T\n"))
    return venv


# ---------------------------------------------------------------- secrets and config


def load_secrets(paths: LabPaths) -> dict[str, str]:
    """Passwords of this lab (admin, service users): random per lab, mode 0600."""
    try:
        data = json.loads(paths.secrets.read_text())
        if isinstance(data, dict) and data.get("admin") and data.get("service"):
            return data
    except (OSError, ValueError):
        pass
    paths.data.mkdir(parents=True, exist_ok=True, mode=0o700)
    # new passwords: databases made with the old ones must be made again
    for marker in (*paths.data.glob("*.initialized"), *paths.data.glob("*.registered")):
        marker.unlink()
    data = {"admin": secrets.token_urlsafe(18), "service": secrets.token_urlsafe(18)}
    fd = os.open(paths.secrets, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return data


def _private_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, text, mode=0o600)


def config_dir(paths: LabPaths, name: str) -> Path:
    return paths.etc / name


def main_config(paths: LabPaths, name: str) -> Path:
    return config_dir(paths, name) / f"{name}.conf"


def write_configs(paths: LabPaths, venv: Path, wanted: Sequence[ServiceSpec], pw: dict) -> None:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda n: files_text(n)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    paths.etc.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.etc, 0o700)
    shutil.copyfile(FILES / "lab_wsgi.py", paths.etc / "lab_wsgi.py")  # type: ignore[arg-type]
    for spec in wanted:
        etc = config_dir(paths, spec.name)
        ctx = {
            "data": paths.data,
            "logs": paths.logs,
            "etc": etc,
            "keystone_url": f"http://127.0.0.1:{SERVICES['keystone'].port}",
            "service_user": spec.name,
            "service_password": pw["service"],
        }
        _private_write(
            main_config(paths, spec.name), env.get_template(f"{spec.name}.conf.j2").render(ctx)
        )
        shipped = venv / "etc" / spec.name
        for extra in ("api-paste.ini", "resource_filters.json"):
            if (shipped / extra).exists():
                shutil.copyfile(shipped / extra, etc / extra)
        if spec.name == "neutron":
            _private_write(
                etc / "plugins/ml2/ml2_conf.ini", env.get_template("ml2_conf.ini.j2").render(ctx)
            )
    for sub in ("lock", "neutron", "nova", "cinder"):
        (paths.data / sub).mkdir(parents=True, exist_ok=True)


# ---------------------------------------------------------------- databases


def init_marker(paths: LabPaths, name: str) -> Path:
    return paths.data / f"{name}.initialized"


def init_steps(paths: LabPaths, venv: Path, name: str) -> list[list[str]]:
    b, conf = venv / "bin", str(main_config(paths, name))
    if name == "keystone":
        km = [str(b / "keystone-manage"), "--config-file", conf]
        return [
            [*km, "db_sync"],
            [*km, "fernet_setup", "--keystone-user", "root", "--keystone-group", "root"],
            [*km, "credential_setup", "--keystone-user", "root", "--keystone-group", "root"],
            [
                *km,
                "bootstrap",
                "--bootstrap-username",
                ADMIN_USER,
                "--bootstrap-region-id",
                REGION,
                *(f"--bootstrap-{i}-url={KEYSTONE_URL}/" for i in ("admin", "internal", "public")),
            ],
        ]
    if name == "neutron":
        ml2 = str(config_dir(paths, name) / "plugins/ml2/ml2_conf.ini")
        schema = FILES / "neutron_schema.py"
        return [
            [str(b / "python"), str(schema), f"sqlite:///{paths.data}/neutron.db"],
            [
                str(b / "neutron-db-manage"),
                "--config-file",
                conf,
                "--config-file",
                ml2,
                "stamp",
                "heads",
            ],
        ]
    if name == "nova":
        nm = [str(b / "nova-manage"), "--config-file", conf]
        return [
            [*nm, "api_db", "sync"],
            [
                *nm,
                "cell_v2",
                "map_cell0",
                "--database_connection",
                f"sqlite:///{paths.data}/nova_cell0.db",
            ],
            [*nm, "db", "sync"],
        ]
    if name == "cinder":
        return [[str(b / "cinder-manage"), "--config-file", conf, "db", "sync"]]
    raise ValueError(name)


def init_database(paths: LabPaths, venv: Path, name: str, admin_password: str) -> None:
    """Create one service's database (skipped when done before: the data survives ``down``)."""
    marker = init_marker(paths, name)
    if marker.exists():
        return
    log = paths.logs / f"init-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if name == "keystone":  # a new catalog: every service registers again
        for m in paths.data.glob("*.registered"):
            m.unlink()
    for db in paths.data.glob(f"{name}*.db"):
        db.unlink()
    if name == "nova":
        for db in paths.data.glob("nova_*.db"):
            db.unlink()
    env = _service_env(paths, name) | {"OS_BOOTSTRAP_PASSWORD": admin_password}
    with open(log, "w") as out:
        for argv in init_steps(paths, venv, name):
            out.write(f"$ {' '.join(argv)}\n")
            out.flush()
            r = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=paths.root)
            if r.returncode != 0:
                raise ExternalError(
                    _("{name}: creating its database failed (exit {returncode}); see {log}").format(
                        name=name, returncode=r.returncode, log=log
                    ),
                )
    marker.write_text(time.strftime("%F %T\n"))


# ---------------------------------------------------------------- processes


def _service_env(paths: LabPaths, name: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(paths.root),
        "PYTHONWARNINGS": "ignore",
        "CLOUDCTL_LAB_SERVICE": name,
        "CLOUDCTL_LAB_CONFIG": str(main_config(paths, name)),
    }
    if name in ("keystone", "neutron", "nova"):
        env[f"OS_{name.upper()}_CONFIG_DIR"] = str(config_dir(paths, name))
    return env


def start(paths: LabPaths, venv: Path, spec: ServiceSpec) -> procs.ProcRecord:
    paths.run.mkdir(parents=True, exist_ok=True)
    ctl = paths.run / f"{spec.name}.ctl"
    with contextlib.suppress(FileNotFoundError):
        ctl.unlink()
    argv = [
        str(venv / "bin/gunicorn"),
        f"--bind=127.0.0.1:{spec.port}",
        "--workers=1",
        "--threads=1",
        "--timeout=120",
        "--graceful-timeout=5",
        f"--control-socket={ctl}",
        f"--pythonpath={paths.etc}",
        # the process title (setproctitle overwrites the environment block, so the title
        # is also how an orphaned gunicorn is recognised as the lab's: procs.owned_pids)
        f"--name={procs.title_marker(paths.root, spec.name)}",
        "lab_wsgi:application",
    ]
    log = paths.logs / f"{spec.name}-gunicorn.log"
    rec = procs.spawn(
        f"svc-{spec.name}", argv, _service_env(paths, spec.name), log, paths.root, cwd=paths.root
    )
    rec.save(paths.run)
    return rec


def http_status(
    url: str, timeout: float = 3.0, headers: dict | None = None, data: bytes | None = None
):
    """(status, parsed json or None, response headers); status 0 when nothing answers."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
            status, hdrs = r.status, r.headers
    except urllib.error.HTTPError as e:
        body, status, hdrs = e.read(), e.code, e.headers
    except (urllib.error.URLError, OSError, TimeoutError):
        return 0, None, {}
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return status, parsed, hdrs


def answers(spec: ServiceSpec, timeout: float = 3.0, tries: int = 1) -> bool:
    for i in range(tries):
        status, _, _ = http_status(spec.url + spec.version_path, timeout)
        if 200 <= status < 400:
            return True
        if i + 1 < tries:
            time.sleep(1)
    return False


def wait_until_answering(spec: ServiceSpec, rec: procs.ProcRecord, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(spec, timeout=5) and _holds_port(rec, spec.port):
            return
        if not procs.is_running(rec):
            break
        time.sleep(0.3)
    tail = _tail(Path(rec.log)) + _tail(paths_log_of(rec))
    why = "exited" if not procs.is_running(rec) else f"no answer within {timeout:.0f} s"
    raise ExternalError(
        _("{spec} on 127.0.0.1:{port} {why}; see {log} and {log2}\n{tail}").format(
            spec=spec.name,
            port=spec.port,
            why=why,
            log=rec.log,
            log2=paths_log_of(rec),
            tail=tail,
        )
    )


def _holds_port(rec: procs.ProcRecord, port: int) -> bool:
    """The answer came from our process, not from something else on the same port."""
    return rec.pid in procs.port_holders(port)


def paths_log_of(rec: procs.ProcRecord) -> Path:
    """The service's own oslo log beside its gunicorn log."""
    p = Path(rec.log)
    return p.with_name(p.name.replace("-gunicorn", ""))


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "".join(f"  | {t}\n" for t in text)


# ---------------------------------------------------------------- Keystone catalog


def admin_token(admin_password: str, timeout: float = 15.0) -> tuple[str, dict] | None:
    """Issue a project-scoped admin token: the deepest health check of Keystone."""
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": ADMIN_USER,
                        "domain": {"id": "default"},
                        "password": admin_password,
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    status, doc, hdrs = http_status(
        f"{KEYSTONE_URL}/auth/tokens",
        timeout,
        headers={"Content-Type": "application/json"},
        data=json.dumps(body).encode(),
    )
    if status != 201 or not doc:
        return None
    return hdrs.get("X-Subject-Token"), doc["token"]


def register(admin_password: str, service_password: str, wanted: Sequence[ServiceSpec]) -> None:
    """Service users and catalog entries, created if missing (safe to repeat)."""
    import openstack

    conn = openstack.connect(
        load_yaml_config=False,
        load_envvars=False,
        region_name=REGION,
        auth={
            "auth_url": KEYSTONE_URL,
            "username": ADMIN_USER,
            "password": admin_password,
            "project_name": "admin",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
    )
    idc = conn.identity
    project = idc.find_project(SERVICE_PROJECT, domain_id="default") or idc.create_project(
        name=SERVICE_PROJECT, domain_id="default", description="lab service users"
    )
    roles = [idc.find_role("admin"), idc.find_role("service") or idc.create_role(name="service")]
    for spec in wanted:
        if spec.name == "keystone":
            continue
        user = idc.find_user(spec.name, domain_id="default")
        if user is None:
            user = idc.create_user(
                name=spec.name,
                password=service_password,
                domain_id="default",
                default_project_id=project.id,
            )
        else:
            idc.update_user(user, password=service_password)
        for role in roles:
            idc.assign_project_role_to_user(project, user, role)
        svc = idc.find_service(spec.catalog_name) or idc.create_service(
            name=spec.catalog_name, type=spec.service_type
        )
        have = {e.interface for e in idc.endpoints(service_id=svc.id)}
        for iface in ("public", "internal", "admin"):
            if iface not in have:
                idc.create_endpoint(
                    service_id=svc.id, interface=iface, url=spec.endpoint, region_id=REGION
                )
    conn.close()


def registered_marker(paths: LabPaths, name: str) -> Path:
    return paths.data / f"{name}.registered"


def probe(spec: ServiceSpec, token: str | None, project_id: str | None, timeout: float = 15.0):
    """A real API call per service -> (healthy, detail)."""
    if token is None:
        ok = answers(spec, timeout)
        return ok, "version document" if ok else "no answer"
    headers = {"X-Auth-Token": token, "Accept": "application/json"}
    call = {  # (path, what it shows in status)
        "keystone": ("/v3/projects?name=admin", "projects"),
        "neutron": ("/v2.0/networks?limit=1", "networks"),
        "nova": (f"/v2.1/os-quota-sets/{project_id}", "quota-sets"),
        "cinder": (f"/v3/{project_id}/os-quota-sets/{project_id}", "quota-sets"),
    }[spec.name]
    t0 = time.monotonic()
    status, _, _ = http_status(spec.url + call[0], timeout, headers=headers)
    ms = (time.monotonic() - t0) * 1000
    return status == 200, f"GET {call[1]}: {status or 'timeout'} ({ms:.0f} ms)"


def init_all(
    paths: LabPaths,
    venv: Path,
    wanted: Sequence[ServiceSpec],
    pw: dict,
    started: Callable[[ServiceSpec, procs.ProcRecord], None],
) -> None:
    """Create missing databases in parallel; start each service as soon as its database is
    ready (Keystone first: the others only need it at their first request)."""

    def one(spec: ServiceSpec) -> None:
        init_database(paths, venv, spec.name, pw["admin"])
        started(spec, start(paths, venv, spec))

    with ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:
        futures = [pool.submit(one, s) for s in wanted]
        errors = []
        for f in futures:
            try:
                f.result()
            except ExternalError as e:
                errors.append(e)
        if errors:
            raise errors[0]
