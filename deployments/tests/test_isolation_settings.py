"""What operators are told and given about isolation: the admin's warning, the shipped
firewall rules, the limits' host caps in the service settings form."""

from __future__ import annotations

import os
import subprocess
import sys

from django.test import override_settings

from conftest import BASE_DIR, process_env
from deployments.engine import firewall
from projects.forms import ServiceSettingsForm
from tenants.tests.test_admin import operator, operator_client  # noqa: F401 -- the fixture

SHIPPED = BASE_DIR / "platform" / "nftables" / "paas.nft"


def test_the_operators_admin_says_loudly_when_isolation_is_off(people, operator):  # noqa: F811
    with override_settings(PAAS_ISOLATED=False, PAAS_ISOLATION="off"):
        page = operator_client(operator).get("/admin/").content.decode()
    assert 'data-testid="isolation-warnings"' in page
    assert "Isolation is OFF (PAAS_ISOLATION is off)" in page


def test_the_operators_admin_says_when_the_firewall_table_is_missing(people, operator):  # noqa: F811
    with override_settings(PAAS_ISOLATED=True, PAAS_FIREWALL_TABLE="paas_never_loaded"):
        page = operator_client(operator).get("/admin/").content.decode()
    assert "The firewall table inet paas_never_loaded is not loaded" in page


def test_the_shipped_firewall_rules_are_what_the_panel_generates():
    body = SHIPPED.read_text().split("\n", 5)[-1]  # after the comment
    assert body == firewall.ruleset("paas", (200000, 299999), [], (20000, 29999))


def test_the_rules_refuse_the_panels_services_reached_over_tcp():
    rules = firewall.ruleset("t", (5000, 5999), [("10.1.2.3", 5432), ("::1", 6379)],
                             (41000, 41999))
    assert "tcp dport 41000-41999 jump app_ports" in rules
    assert "meta skuid != 5001-5999 accept" in rules
    assert "ip daddr 10.1.2.3 tcp dport 5432 jump refuse" in rules
    assert "ip6 daddr ::1 tcp dport 6379 jump refuse" in rules
    assert rules.index("jump refuse\n    meta l4proto") < rules.index("@workspace_ports accept")


def settings_form(**limits: int) -> ServiceSettingsForm:
    data = {"repository_url": "", "branch": "main", "build_timeout": 30, "instances": 1,
            "healthcheck_timeout": 60, "restart_policy": "on-failure", "max_restarts": 3,
            "memory_limit_mb": 512, "max_processes": 256, "max_open_files": 4096,
            "cpu_priority": 0, **limits}
    return ServiceSettingsForm(data=data)


def test_a_services_limits_cannot_go_past_the_hosts_caps(db):
    with override_settings(PAAS_LIMIT_MEMORY_MB=1024, PAAS_LIMIT_PROCESSES=300,
                           PAAS_LIMIT_OPEN_FILES=5000, PAAS_LIMIT_MIN_NICE=5):
        form = settings_form(memory_limit_mb=2048, max_processes=301, max_open_files=6000,
                             cpu_priority=2)
        assert not form.is_valid()
        assert form.errors["memory_limit_mb"] == ["This host allows at most 1024 MB."]
        assert form.errors["max_processes"] == ["This host allows at most 300."]
        assert form.errors["max_open_files"] == ["This host allows at most 5000."]
        assert form.errors["cpu_priority"] == ["This host allows 5 at the least."]
        assert settings_form(memory_limit_mb=1024, max_processes=300, max_open_files=5000,
                             cpu_priority=5).is_valid()


def test_hostile_limits_are_refused_by_field():
    form = settings_form(memory_limit_mb=-1, max_processes=0, max_open_files="lots",
                         cpu_priority=40)
    assert not form.is_valid()
    assert set(form.errors) >= {"memory_limit_mb", "max_processes", "max_open_files",
                                "cpu_priority"}



def test_every_process_of_the_panel_warns_at_start_when_isolation_is_off():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, capture_output=True, text=True,
        env=process_env(PAAS_ISOLATION="off"), timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "Isolation is OFF (PAAS_ISOLATION is off)" in result.stderr
    quiet = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, capture_output=True, text=True,
        env=process_env(PAAS_ISOLATION="auto"), timeout=120, check=False)
    assert ("Isolation is OFF" in quiet.stderr) == (os.geteuid() != 0)
