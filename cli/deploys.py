"""Commands that deploy and read logs: `up`, `deploy`, `rollback`, `logs`, and following a
deployment until it is live or has failed.

Logs are followed live over the API's WebSockets (cli/stream.py), which reconnect by
themselves and resume after the last line received. When the status says a log is over,
its last lines are read from the REST API (the status may overtake lines on their way). A
panel without those sockets is polled every half second with `after=<sequence>`."""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from cli import output
from cli.client import Api, ApiError
from cli.config import Link
from cli.pack import pack
from cli.stream import LogSocket, Unsupported

POLL_SECONDS = 0.5
CHUNK = 64 * 1024
OVER_BADLY = {"failed", "crashed", "cancelled", "superseded", "removed"}
FOLLOW_OVER = {"active", *OVER_BADLY}  # up, deploy, rollback: live, or not
BUILD_OVER = FOLLOW_OVER  # a build log grows no more
RUNTIME_OVER = {"failed", "cancelled", "superseded", "removed"}  # no process prints any more
Show = Callable[[list[dict]], None]
DURATION = re.compile(r"(\d+)\s*([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_time(text: str) -> str:
    """`--since`: a duration back from now (30s, 15m, 1h, 2d, 1h30m) or an ISO time."""
    text = text.strip()
    parts = DURATION.findall(text)
    if parts and DURATION.sub("", text).strip() == "":
        delta = timedelta()
        for amount, unit in parts:
            delta += timedelta(**{UNITS[unit]: int(amount)})
        return (datetime.now(UTC) - delta).isoformat()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since: give a duration (30s, 15m, 1h, 2d) or an ISO time, not {text!r}") from None
    return (moment if moment.tzinfo else moment.astimezone()).isoformat()


def print_line(line: dict, stream: object = None) -> None:
    stream = stream or sys.stdout
    text = line["text"]
    if line.get("stream") == "stderr" or line.get("level") in ("error", "fatal", "critical"):
        text = output.paint(text, "red", stream)
    elif line.get("stream") == "deploy":
        text = output.paint(text, "cyan", stream)
    print(text, file=stream, flush=True)


@dataclass
class Target:
    """One deployment's log: all of it (`build` None), its build and deploy lines (True) or
    its runtime lines (False), optionally filtered."""

    deployment: int
    service: int
    build: bool | None = None
    filter: str | None = None

    def page(self, api: Api, after: int) -> dict:
        """The stored lines after `after` (a page of the REST API)."""
        if self.build is None and not self.filter:
            return api.get(f"deployments/{self.deployment}/logs/", after=after, limit=1000)
        return api.get(f"services/{self.service}/logs/", deployment=self.deployment,
                       build="true" if self.build else None, filter=self.filter or None,
                       after=after, limit=1000)

    def socket(self, api: Api, after: int) -> LogSocket:
        return LogSocket(api, f"ws/deployments/{self.deployment}/logs/",
                         {str(self.deployment): after}, q=self.filter or "", build=self.build)


def read_pages(api: Api, target: Target, after: int, show: Show) -> tuple[int, str]:
    """Print the stored lines after `after`, page after page: the last sequence number read,
    and the deployment's status."""
    while True:
        page = target.page(api, after)
        show(page["lines"])
        after = page["last_sequence"]
        if not page["has_more"]:
            return after, page["status"]


def watch(api: Api, target: Target, after: int, over: set[str], show: Show,
          waiting: Callable[[str | None], None] | None = None) -> str:
    """Print the deployment's lines after `after` as they come, until its status is one of
    `over` (live over the API's socket; polled from an older panel). The status it ended
    with. `waiting` is called every half second that brings nothing."""
    live = target.socket(api, after)
    status = None
    try:
        with closing(live.frames()) as frames:
            for frame in frames:
                if frame is None:
                    if waiting is not None:
                        waiting(status)
                elif frame["type"] == "lines":
                    show(frame["lines"])
                elif frame["type"] == "status":
                    status = frame["deployment"]["status"]
                    if status in over:
                        break
    except Unsupported:
        while True:
            after, status = read_pages(api, target, after, show)
            if status in over:
                return status
            if waiting is not None:
                waiting(status)
            time.sleep(POLL_SECONDS)
    # The status may overtake the last lines on their way; the store has them all.
    read_pages(api, target, live.after.get(str(target.deployment), after), show)
    return status


def follow(api: Api, deployment: dict, as_json: bool) -> int:
    """Print the deployment's log as it grows until it is over: 0 when it is live, 1 if not."""
    spinner = output.Spinner()
    logs = sys.stderr if as_json else sys.stdout
    number = deployment["number"]

    def show(lines: list[dict]) -> None:
        if lines:
            spinner.clear()
        for line in lines:
            print_line(line, logs)

    def waiting(status: str | None) -> None:
        if status == "queued":
            spinner.tick(f"#{number} queued…")

    status = watch(api, Target(deployment["id"], deployment["service"]), 0, FOLLOW_OVER,
                   show, waiting)
    spinner.clear()
    final = api.get(f"deployments/{deployment['id']}/")
    if as_json:
        output.emit_json(final)
    elif status == "active":
        output.say(output.paint(f"#{number} is live.", "green"))
    else:
        reason = output.clean(final.get("error_reason") or "")
        output.say(output.paint(f"#{number} {status}" + (f": {reason}" if reason else "."),
                                "red"), sys.stderr)
    return 0 if status == "active" else 1


def _chunks(source: BinaryIO, progress: output.Progress) -> Iterator[bytes]:
    while data := source.read(CHUNK):
        progress.advance(len(data))
        yield data
    progress.finish()


def up(api: Api, link: Link, root: Path, args: argparse.Namespace) -> int:
    with tempfile.TemporaryFile(prefix="paas-up-") as archive:
        packed = pack(root, archive, use_git=not args.no_git)
        size = archive.tell()
        archive.seek(0)
        for name in packed.skipped:
            output.say(f"Skipped {name} (a link out of the tree or a special file).",
                       sys.stderr)
        if not args.json:
            output.say(f"Uploading {packed.files} files ({output.human_size(size)})…",
                       sys.stderr)
        deployment = api.upload(f"services/{link.service}/uploads/",
                                _chunks(archive, output.Progress(size, "Uploading")), size)
    return started(api, deployment, args)


def started(api: Api, deployment: dict, args: argparse.Namespace) -> int:
    if args.detach:
        if args.json:
            output.emit_json(deployment)
        else:
            output.say(f"Deployment #{deployment['number']} ({deployment['id']}) is "
                       f"{output.status_text(deployment['status'])}.")
        return 0
    return follow(api, deployment, args.json)


def deploy(api: Api, link: Link, args: argparse.Namespace) -> int:
    return started(api, api.post("deployments/", {"service": link.service}), args)


def rollback(api: Api, link: Link, args: argparse.Namespace) -> int:
    """To the given deployment (id or #number), else the newest earlier active one."""
    deployments = list(api.all("deployments/", service=link.service, ordering="-number"))
    if args.deployment:
        wanted = args.deployment.lstrip("#")
        by_number = args.deployment.startswith("#")
        target = next((d for d in deployments
                       if str(d["number" if by_number else "id"]) == wanted), None)
        if target is None:
            raise ApiError(f"No deployment {args.deployment} of this service.")
    else:
        active = [d for d in deployments if d["status"] == "active"]
        current = active[0]["number"] if active else None
        target = next((d for d in deployments if d["status"] in ("superseded", "active")
                       and d["finished_at"] and d["number"] != current
                       and d["trigger"] != "rollback"), None)
        if target is None:
            raise ApiError("No earlier deployment to roll back to.")
    return started(api, api.post(f"deployments/{target['id']}/rollback/"), args)


def logs(api: Api, link: Link, args: argparse.Namespace) -> int:
    """The last lines; with -f, then the new ones as they come: a service's runtime lines
    (all its deployments', a new one's too) until interrupted; one deployment's (--build,
    --deployment) until that log can grow no more."""
    params = {"build": "true" if args.build else None, "filter": args.filter or None,
              "since": args.since, "limit": args.lines, "deployment": args.deployment}
    page = api.get(f"services/{link.service}/logs/", **params)

    def show(lines: list[dict]) -> None:
        for line in lines:
            if args.json:
                print(json.dumps(line, sort_keys=True), flush=True)
            else:
                print_line(line)

    show(page["lines"])
    if not args.follow:
        return 0
    deployment = page["deployment"]
    if args.build or args.deployment:
        if deployment is not None:
            watch(api, Target(deployment, link.service, bool(args.build), args.filter),
                  page["last_sequence"], BUILD_OVER if args.build else RUNTIME_OVER, show)
        return 0
    live = LogSocket(api, f"ws/services/{link.service}/logs/",
                     {str(deployment): page["last_sequence"]} if deployment else {},
                     from_now=True, q=args.filter or "")
    try:
        with closing(live.frames()) as frames:
            for frame in frames:
                if frame is not None and frame["type"] == "lines":
                    show(frame["lines"])
    except Unsupported:  # an older panel: its active deployment's lines, polled
        if deployment is not None:
            watch(api, Target(deployment, link.service, False, args.filter),
                  page["last_sequence"], set(), show)
    return 0
