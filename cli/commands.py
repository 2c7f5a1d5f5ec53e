"""Commands about who and where: `login`, `logout`, `link`, `status`, `variables`, `run`,
`open`."""

from __future__ import annotations

import argparse
import getpass
import os
import subprocess
import sys
import webbrowser
from pathlib import Path

from cli import output
from cli.client import Api, ApiError
from cli.config import ConfigError, Link, forget_login, normal_url, save_link, save_login


def login(args: argparse.Namespace) -> int:
    url = normal_url(args.url)
    token = args.token or os.environ.get("PAAS_TOKEN")
    if not token:
        if not sys.stdin.isatty():
            raise ConfigError("Give the token with --token or PAAS_TOKEN (no terminal to ask).")
        token = getpass.getpass("API token (Settings → API tokens): ").strip()
    api = Api(url, token)
    try:
        workspace = api.get("")
    finally:
        api.close()
    save_login(url, token, workspace["slug"])
    if args.json:
        output.emit_json({"url": url, "workspace": workspace})
    else:
        output.say(f"Logged in to {workspace['name']} ({url}) as {workspace['role']}.")
    return 0


def logout(args: argparse.Namespace) -> int:
    url = normal_url(args.url)
    if not forget_login(url):
        raise ConfigError(f"Not logged in to {url}.")
    output.say(f"Logged out of {url}.")
    return 0


def _choose(kind: str, items: list[dict], wanted: str | None, label: str = "name") -> dict:
    if wanted is not None:
        for item in items:
            if str(item["id"]) == wanted or item[label] == wanted:
                return item
        raise ConfigError(f"No {kind} {wanted!r} (there are: "
                          f"{', '.join(item[label] for item in items) or 'none'}).")
    if len(items) == 1:
        return items[0]
    if not items:
        raise ConfigError(f"This workspace has no {kind} to link to: make one first.")
    if not sys.stdin.isatty():
        raise ConfigError(f"Several {kind}s: choose one with --{kind}.")
    for number, item in enumerate(items, 1):
        output.say(f"  {number}. {item[label]}", sys.stderr)
    while True:
        answer = input(f"Which {kind}? [1-{len(items)}] ").strip()
        if answer.isdigit() and 1 <= int(answer) <= len(items):
            return items[int(answer) - 1]


def link(api: Api, url: str, args: argparse.Namespace) -> int:
    workspace = api.get("")
    project = _choose("project", list(api.all("projects/")), args.project)
    environments = list(api.all(f"projects/{project['id']}/environments/"))
    environment = _choose("environment", environments, args.environment or (
        "production" if args.service is None and any(e["name"] == "production"
                                                     for e in environments) else None))
    service = _choose("service", list(api.all("services/", environment=environment["id"])),
                      args.service)
    saved = Link(url, workspace["slug"], project["id"], environment["id"], service["id"],
                 service["name"])
    path = save_link(Path.cwd(), saved)
    if args.json:
        output.emit_json(vars(saved))
    else:
        output.say(f"Linked {Path.cwd()} to {project['name']} / {environment['name']} / "
                   f"{service['name']} ({path.name}).")
    return 0


def status(api: Api, linked: Link, args: argparse.Namespace) -> int:
    service = api.get(f"services/{linked.service}/")
    recent = api.get("deployments/", service=linked.service, limit=5)["results"]
    active = next((d for d in recent if d["id"] == service["active_deployment"]), None)
    if service["active_deployment"] and active is None:
        active = api.get(f"deployments/{service['active_deployment']}/")
    if args.json:
        output.emit_json({"service": service, "active_deployment": active,
                          "deployments": recent})
        return 0
    output.say(output.paint(service["name"], "bold") + "  " + "  ".join(
        f"{linked.url.split('://')[0]}://{domain}" for domain in service["domains"]))
    if active is None:
        output.say("Nothing is live.")
    for deployment in recent:
        source = deployment["commit_sha"][:8] or deployment["trigger"]
        output.say(f"  #{deployment['number']:<4} {output.status_text(deployment['status']):<10}"
                   f" {source:<10} {deployment['created_at'][:19].replace('T', ' ')}"
                   + (f"  {output.clean(deployment['error_reason'])}"
                      if deployment["error_reason"] else ""))
    return 0


def _variables(answer: object) -> dict[str, str]:
    """The variables endpoints' answer as KEY → value: a mapping, a list of {key, value}
    rows, or either inside "results" or "variables"."""
    if isinstance(answer, dict):
        for wrapper in ("results", "variables"):
            if wrapper in answer:
                return _variables(answer[wrapper])
        return {str(key): "" if value is None else str(value) for key, value in answer.items()}
    if isinstance(answer, list):
        return {str(row.get("key") or row.get("name")): str(row.get("value") or "")
                for row in answer if isinstance(row, dict)}
    raise ApiError("Unexpected answer from the variables endpoint.")


def variables(api: Api, linked: Link, args: argparse.Namespace) -> int:
    base = f"services/{linked.service}/variables/"
    if args.action == "set":
        for pair in args.pairs:
            key, equals, value = pair.partition("=")
            if not equals or not key:
                raise ConfigError(f"Give KEY=VALUE, not {pair!r}.")
            api.put(f"{base}{key}/", {"value": value})
            if not args.json:
                output.say(f"Set {key}.")
        if args.json:
            output.emit_json({"set": [pair.partition("=")[0] for pair in args.pairs]})
        return 0
    if args.action == "unset":
        for key in args.pairs:
            api.delete(f"{base}{key}/")
            if not args.json:
                output.say(f"Unset {key}.")
        if args.json:
            output.emit_json({"unset": args.pairs})
        return 0
    values = _variables(api.get(base))
    if args.json:
        output.emit_json(values)
    else:
        for key in sorted(values):
            output.say(f"{output.paint(key, 'bold')}={values[key]}")
    return 0


def run(api: Api, linked: Link, args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ConfigError("Give the command after --, e.g. `paas run -- npm test`.")
    resolved = _variables(api.get(f"services/{linked.service}/variables/resolved/"))
    try:
        return subprocess.call(command, env={**os.environ, **resolved})
    except OSError as error:
        raise ConfigError(f"Cannot run {command[0]}: {error.strerror}") from None


def open_service(api: Api, linked: Link, args: argparse.Namespace) -> int:
    service = api.get(f"services/{linked.service}/")
    if not service["domains"]:
        raise ConfigError("The service has no domain.")
    url = f"{linked.url.split('://')[0]}://{service['domains'][0]}"
    output.say(url)
    if not args.print_only:
        webbrowser.open(url)
    return 0
