"""Commands that deploy and read logs: `up`, `deploy`, `rollback`, `logs`, and following a
deployment until it is live or has failed. Logs are read by polling the API every half
second with `after=<sequence>` (the live WebSocket stream needs a browser session)."""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from cli import output
from cli.client import Api, ApiError
from cli.config import Link
from cli.pack import pack

POLL_SECONDS = 0.5
CHUNK = 64 * 1024
OVER_BADLY = {"failed", "crashed", "cancelled", "superseded", "removed"}
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


def print_line(line: dict, stream: object = sys.stdout) -> None:
    text = line["text"]
    if line.get("stream") == "stderr" or line.get("level") in ("error", "fatal", "critical"):
        text = output.paint(text, "red", stream)
    elif line.get("stream") == "deploy":
        text = output.paint(text, "cyan", stream)
    print(text, file=stream, flush=True)


def follow(api: Api, deployment: dict, as_json: bool) -> int:
    """Print the deployment's log as it grows until it is over: 0 when it is live, 1 if not."""
    spinner = output.Spinner()
    logs = sys.stderr if as_json else sys.stdout
    after, status = 0, deployment["status"]
    number = deployment["number"]
    while True:
        page = api.get(f"deployments/{deployment['id']}/logs/", after=after, limit=1000)
        if page["lines"]:
            spinner.clear()
        for line in page["lines"]:
            print_line(line, logs)
        after, status = page["last_sequence"], page["status"]
        if page["has_more"]:
            continue
        if status == "active" or status in OVER_BADLY:
            break
        if status == "queued":
            spinner.tick(f"#{number} queued…")
        time.sleep(POLL_SECONDS)
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
    params = {"build": "true" if args.build else None, "filter": args.filter or None,
              "since": args.since, "limit": args.lines, "deployment": args.deployment}
    page = api.get(f"services/{link.service}/logs/", **params)
    while True:
        for line in page["lines"]:
            if args.json:
                print(json.dumps(line, sort_keys=True), flush=True)
            else:
                print_line(line)
        if not args.follow or page["deployment"] is None:
            return 0
        if not page["has_more"]:
            time.sleep(POLL_SECONDS)
        params.update(after=page["last_sequence"], limit=1000, deployment=page["deployment"])
        page = api.get(f"services/{link.service}/logs/", **params)
