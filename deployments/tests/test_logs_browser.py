"""Live logs in a real browser (Playwright driving Debian's Chromium): a member deploys, watches
the build's lines arrive on the deployment page as they happen (no reload, no polling), sees
the status move to Active, then follows the app's own output on the service's Logs tab and
filters it with `@level:error`.

Behind the browser everything is real: the panel under uvicorn, a Dramatiq worker, git, PM2,
the log shipper, Redis and PostgreSQL.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from conftest import BASE_DIR, PASSWORD, chromium_page, free_port, process_env, start_panel
from deployments.tests import sample_apps
from deployments.tests.engine import remove_everything, running_worker
from projects.services import create_project, create_service

pytestmark = pytest.mark.browser

DEPLOY_TIMEOUT_MS = 120_000
# A web process that says what it does as JSON lines, an error now and then, on stderr.
TALKATIVE_APP = {
    "Procfile": "web: exec python3 app.py\n",
    "app.py": '''import http.server, json, os, sys, threading, time

def talk():
    for number in range(1, 100000):
        if number % 3 == 0:
            print(json.dumps({"level": "error", "msg": f"payment failed #{number}"}),
                  file=sys.stderr, flush=True)
        else:
            print(json.dumps({"level": "info", "msg": f"served request #{number}"}), flush=True)
        time.sleep(0.3)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

print("\\x1b[1;32mbooting\\x1b[0m <talkative>", flush=True)
threading.Thread(target=talk, daemon=True).start()
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
''',
}


@pytest.fixture(scope="module")
def worker(django_db_setup) -> Iterator[subprocess.Popen]:
    with running_worker() as process:
        yield process


@pytest.fixture
def shipper(django_db_setup) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen([sys.executable, "manage.py", "ship_logs"], cwd=BASE_DIR,
                               env=process_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    yield process
    process.terminate()
    process.wait(15)


@pytest.fixture
def panel(committed_db, settings) -> Iterator[tuple[str, Callable[[], None]]]:
    """The panel under uvicorn, and a way to restart it on the same port (open pages'
    sockets drop and reconnect)."""
    port = free_port()
    processes = [start_panel(port)]

    def restart() -> None:
        processes[-1].terminate()
        processes[-1].wait(15)
        processes.append(start_panel(port))

    yield f"http://{settings.PAAS_DOMAIN}:{port}", restart
    processes[-1].terminate()
    processes[-1].wait(15)


def page_sequences(log) -> list[tuple[str, int]]:
    return [(deployment, int(sequence)) for deployment, sequence in log.locator(
        "[data-log-line]").evaluate_all(
        "lines => lines.map(line => [line.dataset.deployment, line.dataset.sequence])")]


def test_build_and_runtime_lines_appear_live_and_filter(committed_db, worker, shipper, panel,
                                                        tmp_path):
    from projects.tests.test_variables_browser import log_in
    from tenants.tests.test_browser import TIMEOUT_MS, in_thread, shoot

    workspace = committed_db.workspace_a
    with tenant_context(workspace):
        project = create_project(f"Logs {uuid.uuid4().hex[:6]}")
        repository = sample_apps.make_repo(tmp_path, "talk", TALKATIVE_APP)
        service = create_service(project.environments.get(), "talk", repository_url=repository)
    panel_server, restart_panel = panel
    port = panel_server.rsplit(":", 1)[1]
    workspace_url = f"http://{workspace.hostname}:{port}"
    errors: list[str] = []

    def journey() -> None:
        with chromium_page(TIMEOUT_MS, height=900) as page:
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, panel_server, committed_db.member.email, PASSWORD)
            page.goto(f"{workspace_url}/services/{service.pk}/")
            page.locator("[data-action=deploy]").click()
            page.locator('[data-deployment="1"]').get_by_test_id("deployment-link").click()

            # The deployment page, opened while it is queued or building: its lines come live.
            page.evaluate("window.notReloaded = true")
            log = page.get_by_test_id("log-lines")
            expect(log.locator('[data-phase-heading="fetch"]')).to_have_count(1)
            expect(log).to_contain_text("Cloning", timeout=DEPLOY_TIMEOUT_MS)
            summary = page.get_by_test_id("deployment-summary")
            expect(summary.locator('[data-status="active"]')).to_have_count(
                1, timeout=DEPLOY_TIMEOUT_MS)
            expect(log).to_contain_text("now routes to #1")
            assert page.evaluate("window.notReloaded === true")
            sequences = [int(value) for value in log.locator("[data-log-line]").evaluate_all(
                "lines => lines.map(line => line.dataset.sequence)")]
            assert sequences == sorted(set(sequences)) and sequences[0] == 1
            shoot(page, "logs-deployment-live")

            # Only the deploy stream.
            page.get_by_test_id("log-stream").select_option("deploy")
            page.get_by_test_id("log-filter-submit").click()
            expect(page).to_have_url(re.compile(r"stream=deploy"))
            streams = log.locator("[data-log-line]").evaluate_all(
                "lines => [...new Set(lines.map(line => line.dataset.stream))]")
            assert streams == ["deploy"], streams

            # The app's own output on the Logs tab, live, colours shown and markup inert.
            page.goto(f"{workspace_url}/services/{service.pk}/logs/")
            runtime = page.get_by_test_id("log-lines")
            expect(runtime).to_contain_text("booting <talkative>")
            expect(runtime.locator(".ansi-fg-2")).to_have_count(1)
            expect(runtime.locator("talkative")).to_have_count(0)
            expect(runtime).to_contain_text("payment failed #3")
            count = runtime.locator("[data-log-line]").count()
            expect(runtime.locator("[data-log-line]")).not_to_have_count(count)  # still coming
            shoot(page, "logs-runtime-live")

            # Timestamps on demand.
            stamps = runtime.locator(".log-time").first
            expect(stamps).to_be_hidden()
            page.get_by_test_id("log-timestamps").click()
            expect(stamps).to_be_visible()
            expect(page.get_by_test_id("log-timestamps")).to_have_attribute("aria-pressed", "true")

            # Scrolled up, the log stops following and says how many lines came meanwhile.
            follow = page.get_by_test_id("log-follow")
            expect(follow).to_be_hidden()
            page.wait_for_function("""() => {
                const lines = document.querySelector("[data-log-lines]");
                return lines.scrollHeight > lines.clientHeight + 100;
            }""", timeout=60_000)
            runtime.evaluate("lines => { lines.scrollTop = 0; }")
            expect(follow).to_be_visible()
            expect(follow).to_contain_text(re.compile(r"\d+ new lines?"))
            assert runtime.evaluate("lines => lines.scrollTop") == 0  # it did not jump
            follow.click()
            expect(follow).to_be_hidden()
            assert runtime.evaluate(
                "lines => lines.scrollHeight - lines.scrollTop - lines.clientHeight < 40")

            # The server restarts: the socket reconnects by itself and resumes, no line twice.
            before = len(page_sequences(runtime))
            restart_panel()
            expect(runtime.locator("[data-log-line]")).not_to_have_count(before, timeout=30_000)
            page.wait_for_timeout(1500)
            seen = page_sequences(runtime)
            assert len(seen) == len(set(seen)), "a line was shown twice"
            assert seen == sorted(seen, key=lambda pair: pair[1]), "out of order"

            # The whole log as a text file.
            with page.expect_download() as downloading:
                page.get_by_test_id("log-download").click()
            text = Path(downloading.value.path()).read_text()
            assert "payment failed #3" in text and "[stderr]" in text and "\x1b" not in text

            # Errors only, stored and live.
            page.get_by_test_id("log-filter-input").fill("@level:error")
            page.get_by_test_id("log-filter-input").press("Enter")
            expect(page).to_have_url(re.compile(r"q=%40level%3Aerror"))
            lines = runtime.locator("[data-log-line]")
            expect(lines.first).to_contain_text("payment failed")
            first_count = lines.count()
            expect(lines).not_to_have_count(first_count)  # a new error arrived live
            texts = lines.evaluate_all("lines => lines.map(line => line.dataset.level)")
            assert set(texts) == {"error"}, texts
            expect(runtime).not_to_contain_text("served request")
            shoot(page, "logs-runtime-errors")

            # A bad filter: one line, no error page.
            page.get_by_test_id("log-filter-input").fill('"unclosed')
            page.get_by_test_id("log-filter-input").press("Enter")
            expect(page.get_by_test_id("log-filter-error")).to_contain_text("Unclosed quote")

    try:
        in_thread(journey)
    finally:
        remove_everything(workspace)
    assert errors == [], errors
