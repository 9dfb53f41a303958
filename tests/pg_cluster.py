"""A throw-away PostgreSQL cluster of a test's own (initdb + pg_ctl on a free 127.0.0.1 port, in a temporary
folder), which the test can stop and start again: the shared server at 5432 must never be the one taken down.

initdb refuses to run as root. As root the cluster is made and run as the `postgres` system user (`runuser -u
postgres`, its folder chowned to that user); as anyone else, as the current user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.api_support import free_port

_TIMEOUT_S = 60


def postgres_bin() -> Path | None:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/N/bin), else pg_ctl on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def cluster_problem() -> str | None:
    """Why no cluster can be made here, or None."""
    if postgres_bin() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl) found in /usr/lib/postgresql/*/bin or on PATH"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run initdb as"
    return None


@dataclass
class Cluster:
    folder: Path
    port: int
    bin: Path

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def libpq_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        # fsync off: a test cluster that is thrown away; sockets in its own folder, TCP on loopback only.
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options,
                  "-w", "-t", str(_TIMEOUT_S), "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(_TIMEOUT_S), "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


def make_cluster() -> Cluster:
    """A new, started cluster; `destroy` it when done."""
    bin_dir = postgres_bin()
    assert bin_dir is not None
    folder = Path(tempfile.mkdtemp(prefix="pp-pgfault-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    cluster = Cluster(folder=folder, port=free_port(), bin=bin_dir)
    try:
        cluster.init()
        cluster.start()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return cluster


def destroy(cluster: Cluster) -> None:
    try:
        if cluster.running():
            cluster.stop()
    finally:
        shutil.rmtree(cluster.folder, ignore_errors=True)


__all__ = ["Cluster", "cluster_problem", "destroy", "make_cluster", "postgres_bin"]
