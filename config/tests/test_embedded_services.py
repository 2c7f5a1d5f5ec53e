"""The embedded PostgreSQL and Redis of `make run` / `make test` (config/localenv.py) require
their generated passwords, and keep their sockets where only the panel's user reaches them."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from config import localenv


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="paas-embedded-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(localenv.socket_dir(path), ignore_errors=True)


def connect(directory: Path, **password: str) -> psycopg.Connection:
    return psycopg.connect(host=str(localenv.socket_dir(directory)), user="postgres",
                           dbname="postgres", connect_timeout=5, **password)


def test_the_embedded_postgresql_requires_its_password(data_dir):
    stop = localenv.start_postgres(data_dir)
    try:
        with pytest.raises(psycopg.OperationalError, match="password"):
            connect(data_dir).close()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect(data_dir, password="guessed").close()
        password = (data_dir / "secrets" / "postgres_password").read_text().strip()
        with connect(data_dir, password=password) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        sockets = localenv.socket_dir(data_dir)
        assert sockets.stat().st_mode & 0o077 == 0  # nobody else even reaches the socket
        assert (data_dir / "secrets" / "postgres_password").stat().st_mode & 0o077 == 0
    finally:
        stop()


def test_a_cluster_that_trusted_its_clients_requires_the_password_from_its_next_start(
        data_dir):
    """What an older version made: initdb --auth=trust."""
    pgdata = data_dir / "postgres"
    pgdata.mkdir()
    localenv._chown_for_postgres(pgdata)
    subprocess.run([localenv._postgres_bin("initdb"), "-D", str(pgdata), "-U", "postgres",
                    "--auth=trust", "--no-instructions"], check=True,
                   stdout=subprocess.DEVNULL, **localenv._run_as_postgres_user())
    stop = localenv.start_postgres(data_dir)
    try:
        with pytest.raises(psycopg.OperationalError, match="password"):
            connect(data_dir).close()
        password = (data_dir / "secrets" / "postgres_password").read_text().strip()
        connect(data_dir, password=password).close()
    finally:
        stop()


def test_the_embedded_redis_requires_its_password(data_dir):
    stop = localenv.start_redis(data_dir)
    socket_path = str(localenv.socket_dir(data_dir) / "redis.sock")
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(unix_socket_path=socket_path).ping()
        assert redis.Redis.from_url(localenv.embedded_redis_url(data_dir)).ping()
    finally:
        stop()
