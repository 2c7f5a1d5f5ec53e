"""A fake GitHub on loopback: OAuth (authorize, token, refresh), the user and their email
addresses, repositories and branches (paginated like GitHub, with Link headers), repository
webhooks (created, listed and updated by the repository's admins; one per URL) and commit
statuses. The panel talks to it through GITHUB_URL and GITHUB_API_URL
exactly as it talks to GitHub (the API lives under /api/v3, as on GitHub Enterprise Server).

Everything it was asked is kept in `requests`, every hook and status it accepted in `hooks`
and `statuses`, so tests assert what GitHub would have seen. `deliver()` sends an event to
a repository's webhooks as GitHub does, signed with each hook's secret.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from github.signatures import signature

API = "/api/v3"


@dataclass
class FakeUser:
    login: str
    id: int
    name: str = ""
    # (address, verified, primary)
    emails: list[tuple[str, bool, bool]] = field(default_factory=list)


@dataclass
class FakeRepo:
    full_name: str
    clone_url: str
    private: bool = False
    branches: list[str] = field(default_factory=lambda: ["main"])
    default_branch: str = "main"
    admins: set[str] = field(default_factory=set)  # logins that may create hooks
    readers: set[str] = field(default_factory=set)  # logins that see it (besides admins)


@dataclass
class Token:
    user: FakeUser
    expires_at: datetime | None = None
    revoked: bool = False


class FakeGitHub:
    def __init__(self, client_id: str = "fake-client-id",
                 client_secret: str = "fake-client-secret") -> None:  # noqa: S107
        self.client_id, self.client_secret = client_id, client_secret
        self.users: dict[str, FakeUser] = {}
        self.repos: dict[str, FakeRepo] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, FakeUser] = {}
        self.codes: dict[str, FakeUser] = {}
        self.hooks: list[dict] = []
        self.statuses: list[dict] = []
        self.deliveries: list[dict] = []  # what deliver() sent: hook, event, id, status
        self.requests: list[tuple[str, str]] = []
        self.authorizing: FakeUser | None = None  # who "clicks Authorize" on /authorize
        self.token_lifetime: timedelta | None = None  # set: tokens expire, with refresh
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # Set-up ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.url + API

    def start(self) -> FakeGitHub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_user(self, login: str, id: int, name: str = "",
                 emails: list[tuple[str, bool, bool]] | None = None) -> FakeUser:
        user = FakeUser(login, id, name, emails or [])
        self.users[login] = user
        return user

    def add_repo(self, full_name: str, clone_url: str = "", **fields: object) -> FakeRepo:
        repo = FakeRepo(full_name, clone_url or f"https://github.com/{full_name}.git",
                        **fields)
        self.repos[full_name.lower()] = repo
        return repo

    def issue_token(self, user: FakeUser) -> str:
        token = "gho_" + secrets.token_urlsafe(24)
        expires = (datetime.now(UTC) + self.token_lifetime) if self.token_lifetime else None
        self.tokens[token] = Token(user, expires)
        return token

    def revoke(self, token: str) -> None:
        self.tokens[token].revoked = True

    def expire(self, token: str) -> None:
        self.tokens[token].expires_at = datetime.now(UTC) - timedelta(seconds=1)

    def visible_repos(self, user: FakeUser) -> list[FakeRepo]:
        return [repo for repo in self.repos.values()
                if user.login in repo.admins | repo.readers
                or repo.full_name.split("/")[0] == user.login]

    def repo_json(self, repo: FakeRepo, user: FakeUser) -> dict:
        """A repository as GitHub's API shows it to `user`."""
        return {"full_name": repo.full_name, "clone_url": repo.clone_url,
                "html_url": f"{self.url}/{repo.full_name}", "private": repo.private,
                "default_branch": repo.default_branch,
                "permissions": {"admin": user.login in repo.admins, "pull": True}}

    def hooks_of(self, full_name: str) -> list[dict]:
        return [hook for hook in self.hooks
                if hook["repository"].lower() == full_name.lower()]

    # Deliveries -----------------------------------------------------------------------

    def deliver(self, full_name: str, event: str, payload: dict) -> list[int]:
        """Post `payload` as GitHub does to each active hook of the repository subscribed
        to `event` (or to "*"): signed with the hook's secret, to its URL's port on
        loopback with the URL's Host header (a workspace's subdomain need not resolve).
        The HTTP statuses, in the hooks' order; 0 for a hook that could not be reached."""
        body = json.dumps(payload).encode()
        statuses = []
        for hook in self.hooks_of(full_name):
            if not hook.get("active", True) or not {event, "*"} & set(hook.get("events", ())):
                continue
            status, delivery_id = _post(hook["config"], event, body)
            with self.lock:
                self.deliveries.append({"hook": hook["id"], "event": event,
                                        "delivery_id": delivery_id, "status": status})
            statuses.append(status)
        return statuses


def _post(config: dict, event: str, body: bytes) -> tuple[int, str]:
    """One delivery of `body` to a hook's config (url, secret); its status and id."""
    url = urlsplit(config["url"])
    delivery_id = str(uuid.uuid4())
    headers = {"Host": url.netloc, "X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id,
               "User-Agent": "GitHub-Hookshot/fake", "Content-Type": "application/json"}
    if config.get("secret"):
        headers["X-Hub-Signature-256"] = signature(config["secret"], body)
    port = url.port or (443 if url.scheme == "https" else 80)
    target = f"{url.scheme}://127.0.0.1:{port}{url.path or '/'}"
    if url.query:
        target += f"?{url.query}"
    try:
        response = httpx.post(target, content=body, headers=headers, timeout=10.0,
                              verify=False)  # noqa: S501 (loopback)
    except httpx.HTTPError:
        return 0, delivery_id
    return response.status_code, delivery_id


def _shown(hook: dict) -> dict:
    """A hook as GitHub's API shows it: the secret masked."""
    config = dict(hook["config"])
    if config.get("secret"):
        config["secret"] = "********"  # noqa: S105
    return {**hook, "config": config}


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        # Plumbing -------------------------------------------------------------------

        def _send(self, status: int, body: object, headers: dict[str, str] | None = None,
                  ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _form(self) -> dict[str, str]:
            raw = self._body().decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                return {k: str(v) for k, v in json.loads(raw or "{}").items()}
            return {k: v[0] for k, v in parse_qs(raw).items()}

        def _user(self) -> FakeUser | None:
            header = self.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            entry = fake.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
            if entry is None or entry.revoked or (
                    entry.expires_at and entry.expires_at < datetime.now(UTC)):
                self._send(401, {"message": "Bad credentials"})
                return None
            return entry.user

        def _paginated(self, items: list, query: dict[str, list[str]]) -> None:
            per_page = min(int(query.get("per_page", ["30"])[0]), 100)
            page = max(int(query.get("page", ["1"])[0]), 1)
            chunk = items[(page - 1) * per_page: page * per_page]
            headers = {}
            if page * per_page < len(items):
                next_query = {**{k: v[0] for k, v in query.items()}, "page": str(page + 1)}
                headers["Link"] = (f'<{fake.url}{urlsplit(self.path).path}?'
                                   f'{urlencode(next_query)}>; rel="next"')
            self._send(200, chunk, headers)

        # Routes ---------------------------------------------------------------------

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            with fake.lock:
                fake.requests.append(("GET", parts.path))
            if parts.path == "/login/oauth/authorize":
                return self._authorize(query)
            if not parts.path.startswith(API + "/"):
                return self._send(404, {"message": "Not Found"})
            path = parts.path[len(API):]
            user = self._user()
            if user is None:
                return None
            if path == "/user":
                primary = next((e for e, _v, p in user.emails if p), None)
                return self._send(200, {"login": user.login, "id": user.id,
                                        "name": user.name, "email": primary})
            if path == "/user/emails":
                return self._send(200, [{"email": e, "verified": v, "primary": p,
                                         "visibility": None} for e, v, p in user.emails])
            if path == "/user/repos":
                repos = [fake.repo_json(r, user) for r in fake.visible_repos(user)]
                return self._paginated(repos, query)
            if path.startswith("/repos/") and path.count("/") == 3:
                repo = fake.repos.get(path[len("/repos/"):].lower())
                if repo is None or repo not in fake.visible_repos(user):
                    return self._send(404, {"message": "Not Found"})
                return self._send(200, fake.repo_json(repo, user))
            if path.startswith("/repos/") and path.endswith("/hooks"):
                repo = self._admin_repo(user, path[len("/repos/"):-len("/hooks")])
                if repo is None:
                    return None
                return self._paginated([_shown(h) for h in fake.hooks_of(repo.full_name)],
                                       query)
            if path.startswith("/repos/") and path.endswith("/branches"):
                repo = fake.repos.get(path[len("/repos/"):-len("/branches")].lower())
                if repo is None or repo not in fake.visible_repos(user):
                    return self._send(404, {"message": "Not Found"})
                return self._paginated([{"name": b} for b in repo.branches], query)
            return self._send(404, {"message": "Not Found"})

        def do_POST(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            with fake.lock:
                fake.requests.append(("POST", parts.path))
            if parts.path == "/login/oauth/access_token":
                return self._access_token(self._form())
            path = parts.path[len(API):] if parts.path.startswith(API + "/") else ""
            user = self._user() if path else None
            if user is None:
                return None if path else self._send(404, {"message": "Not Found"})
            body = json.loads(self._body() or b"{}")
            segments = path.strip("/").split("/")
            if len(segments) < 4 or segments[0] != "repos":
                return self._send(404, {"message": "Not Found"})
            repo = fake.repos.get(f"{segments[1]}/{segments[2]}".lower())
            if repo is None or repo not in fake.visible_repos(user):
                return self._send(404, {"message": "Not Found"})
            if segments[3:] == ["hooks"]:
                return self._create_hook(user, repo, body)
            if segments[3] == "statuses" and len(segments) == 5:
                status = {"repository": repo.full_name, "sha": segments[4], **body}
                with fake.lock:
                    fake.statuses.append(status)
                return self._send(201, status)
            return self._send(404, {"message": "Not Found"})

        def do_PATCH(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            with fake.lock:
                fake.requests.append(("PATCH", parts.path))
            segments = parts.path[len(API):].strip("/").split("/")
            if (not parts.path.startswith(API + "/") or len(segments) != 5
                    or segments[0] != "repos" or segments[3] != "hooks"):
                return self._send(404, {"message": "Not Found"})
            user = self._user()
            if user is None:
                return None
            body = json.loads(self._body() or b"{}")
            repo = self._admin_repo(user, f"{segments[1]}/{segments[2]}")
            if repo is None:
                return None
            hook = next((h for h in fake.hooks_of(repo.full_name)
                         if str(h["id"]) == segments[4]), None)
            if hook is None:
                return self._send(404, {"message": "Not Found"})
            with fake.lock:
                hook.update({key: body[key] for key in ("config", "events", "active")
                             if key in body})
            return self._send(200, _shown(hook))

        def _admin_repo(self, user: FakeUser, full_name: str) -> FakeRepo | None:
            """The repository if `user` administers it; else 404 is answered (GitHub hides
            a repository's hooks from everyone else)."""
            repo = fake.repos.get(full_name.lower())
            if repo is None or user.login not in repo.admins:
                self._send(404, {"message": "Not Found"})
                return None
            return repo

        def _create_hook(self, user: FakeUser, repo: FakeRepo, body: dict) -> None:
            if user.login not in repo.admins:
                return self._send(404, {"message": "Not Found"})
            config = body.get("config") or {}
            with fake.lock:
                if any(h["config"].get("url") == config.get("url")
                       for h in fake.hooks_of(repo.full_name)):
                    return self._send(422, {"message": "Validation Failed", "errors": [
                        {"resource": "Hook", "code": "custom",
                         "message": "Hook already exists on this repository"}]})
                hook = {"id": len(fake.hooks) + 1, "repository": repo.full_name,
                        "name": body.get("name", "web"), "active": body.get("active", True),
                        "events": body.get("events", ["push"]), "config": config}
                fake.hooks.append(hook)
            return self._send(201, _shown(hook))

        def _authorize(self, query: dict[str, list[str]]) -> None:
            user = fake.authorizing
            if query.get("client_id", [""])[0] != fake.client_id or user is None:
                return self._send(404, {"message": "Not Found"})
            code = secrets.token_urlsafe(12)
            fake.codes[code] = user
            target = query["redirect_uri"][0]
            separator = "&" if "?" in target else "?"
            state = query.get("state", [""])[0]
            self.send_response(302)
            self.send_header("Location",
                             f"{target}{separator}{urlencode({'code': code, 'state': state})}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None

        def _access_token(self, form: dict[str, str]) -> None:
            if (form.get("client_id") != fake.client_id
                    or form.get("client_secret") != fake.client_secret):
                return self._send(200, {"error": "incorrect_client_credentials"})
            if form.get("grant_type") == "refresh_token":
                user = fake.refresh_tokens.pop(form.get("refresh_token", ""), None)
                if user is None:
                    return self._send(200, {"error": "bad_refresh_token"})
            else:
                user = fake.codes.pop(form.get("code", ""), None)  # a code works once
                if user is None:
                    return self._send(200, {"error": "bad_verification_code"})
            answer: dict[str, object] = {"access_token": fake.issue_token(user),
                                         "token_type": "bearer", "scope": "repo,user:email"}
            if fake.token_lifetime:
                refresh = "ghr_" + secrets.token_urlsafe(24)
                fake.refresh_tokens[refresh] = user
                answer.update(expires_in=int(fake.token_lifetime.total_seconds()),
                              refresh_token=refresh, refresh_token_expires_in=15897600)
            return self._send(200, answer)

    return Handler
