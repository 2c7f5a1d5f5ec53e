"""Limits of a service's processes and builds (README, Isolation).

- processes and threads (RLIMIT_NPROC, which Linux counts per user: with isolation, per
  workspace), open files (RLIMIT_NOFILE) and CPU priority (nice): set by util-linux `prlimit`
  and coreutils `nice` in front of the command, which exec it (a millisecond each);
- memory: the monitor restarts a process past its limit on its next pass (every 15 s) and
  records the reason, shown on the service's page. The host's systemd is not used: these
  hosts run the panel without it (README says what cgroups would add).

Each value is the service's own setting within the host's caps (PAAS_LIMIT_*).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from projects.models import Service


@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    processes: int
    open_files: int
    nice: int

    @classmethod
    def of(cls, service: Service) -> Limits:
        return cls(
            memory_bytes=min(service.memory_limit_mb, settings.PAAS_LIMIT_MEMORY_MB) * 2**20,
            processes=min(service.max_processes, settings.PAAS_LIMIT_PROCESSES),
            open_files=min(service.max_open_files, settings.PAAS_LIMIT_OPEN_FILES),
            nice=min(19, max(service.cpu_priority, settings.PAAS_LIMIT_MIN_NICE)),
        )

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` run under these limits (as is when prlimit or nice is missing)."""
        prlimit, nice = shutil.which("prlimit"), shutil.which("nice")
        if prlimit is None or nice is None:
            return argv
        return [prlimit, f"--nproc={self.processes}", f"--nofile={self.open_files}", "--",
                nice, "-n", str(self.nice), "--", *argv]

    def describe_memory(self) -> str:
        return f"{self.memory_bytes // 2**20} MB"


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def memory_by_group() -> dict[int, int]:
    """Resident memory (bytes) of each process group of the host. PM2 spawns every process
    leading a group of its own, and what it starts (`sh -c` running the app, workers) stays
    in it: a group's memory is the process's with everything it started."""
    totals: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        group, resident_pages = int(fields[2]), int(fields[21])
        totals[group] = totals.get(group, 0) + resident_pages * PAGE_SIZE
    return totals
