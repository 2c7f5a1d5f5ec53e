"""`paas`: argument parsing and the one way errors end a command (one line on stderr, exit 1;
usage errors exit 2, as argparse does)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import VERSION, commands, deploys, output
from cli.client import Api, ApiError
from cli.config import ConfigError, credentials, find_link

EPILOG = ("Environment: PAAS_TOKEN and PAAS_URL (CI: no login needed), PAAS_CONNECT_ADDRESS "
          "(connect there, sending the workspace's name as Host; *.localhost goes to "
          "127.0.0.1 anyway), NO_COLOR.")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON, for scripts")
    parser = argparse.ArgumentParser(
        prog="paas", description="Deploy and watch services of a workspace of the panel.",
        epilog=EPILOG, parents=[common])
    parser.add_argument("--version", action="version", version=f"paas {VERSION}")
    sub = parser.add_subparsers(dest="command_name", metavar="COMMAND", required=True)

    def add(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, parents=[common])

    p = add("login", "Log in to a workspace with an API token (kept in "
            "~/.config/paas/config.json, mode 0600).")
    p.add_argument("url", help="the workspace's URL, e.g. https://team.panel.example.com")
    p.add_argument("--token", help="the token (default: PAAS_TOKEN, else asked without echo)")
    p = add("logout", "Forget the token of a workspace.")
    p.add_argument("url")
    p = add("link", "Link this directory to a service (writes .paas.json).")
    p.add_argument("--url", help="the workspace's URL (default: the last one logged in to)")
    for kind in ("project", "environment", "service"):
        p.add_argument(f"--{kind}", help=f"the {kind}'s name or id (asked if several)")
    for name, text in (("up", "Upload this directory (honouring .gitignore) and deploy it."),
                       ("deploy", "Deploy the head of the service's branch."),
                       ("rollback", "Start an earlier deployment's release again.")):
        p = add(name, text + " Follows the build log live until it is live (exit 0) or "
                "failed (exit 1).")
        p.add_argument("--detach", action="store_true", help="return once it has started")
        if name == "up":
            p.add_argument("--no-git", action="store_true",
                           help="read .gitignore files here instead of asking git")
        if name == "rollback":
            p.add_argument("deployment", nargs="?", help="its id, or #number (default: the "
                           "newest earlier successful one)")
    add("status", "The service, its domains and its latest deployments.")
    p = add("logs", "The service's runtime logs (or a build log with --build). -f follows "
            "them live, until interrupted (the service's: every deployment's, a new one's "
            "too) or until the log is over (--build, --deployment).")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("--build", action="store_true", help="build and deploy lines instead")
    p.add_argument("--since", type=deploys.since_time, help="30s, 15m, 1h, 2d or an ISO time")
    p.add_argument("--filter", help="the log views' filter, e.g. '@level:error timeout'")
    p.add_argument("-n", "--lines", type=int, default=100, help="how many (default 100)")
    p.add_argument("--deployment", type=int, help="a deployment's id (default: the active one)")
    p = add("variables", "List, set or unset the service's variables.")
    p.add_argument("action", nargs="?", choices=["list", "set", "unset"], default="list")
    p.add_argument("pairs", nargs="*", metavar="KEY=VALUE|KEY")
    p = add("run", "Run a local command with the service's resolved variables in its "
            "environment (roles that may read secrets: owner, admin).")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS…]")
    p = add("open", "Open the service's first domain in the browser.")
    p.add_argument("--print", dest="print_only", action="store_true", help="only print it")
    return parser


LINKED = {"up": None, "deploy": deploys.deploy, "rollback": deploys.rollback,
          "logs": deploys.logs, "status": commands.status, "variables": commands.variables,
          "run": commands.run, "open": commands.open_service}


def _dispatch(args: argparse.Namespace) -> int:
    name = args.command_name
    if name == "login":
        return commands.login(args)
    if name == "logout":
        return commands.logout(args)
    found = find_link()
    if name == "link":
        url, token = credentials(args.url)
        api = Api(url, token)
        try:
            return commands.link(api, url, args)
        finally:
            api.close()
    if found is None:
        raise ConfigError("This directory is not linked to a service: run `paas link`.")
    root, link = found
    url, token = credentials(link.url)
    api = Api(url, token)
    try:
        if name == "up":
            return deploys.up(api, link, root, args)
        return LINKED[name](api, link, args)
    finally:
        api.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    if args.command_name == "variables" and args.action == "list" and args.pairs:
        _parser().error("variables list takes no arguments")
    try:
        return _dispatch(args)
    except (ApiError, ConfigError) as error:
        output.say(output.paint("error: ", "red", sys.stderr) + output.clean(str(error)),
                   sys.stderr)
        return 1
    except KeyboardInterrupt:
        output.say("", sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
