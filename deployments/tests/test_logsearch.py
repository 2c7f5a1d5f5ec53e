"""The log filter box: what a query keeps, the one-line message when it cannot run, and the
same answer from PostgreSQL (stored lines) as from Python (live lines)."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from deployments import logstore
from deployments.logsearch import FilterError, parse
from deployments.models import Deployment, LogLine
from projects.services import create_project, create_service

# A log as a service's Logs tab shows it: plain and JSON lines, every stream, levels as the
# log store names them.
LINES = {
    "timeout": {"text": "upstream timeout after 30s", "stream": "stderr", "level": "error",
                "attributes": None},
    "refused": {"text": "Connection REFUSED by 10.0.0.5:5432", "stream": "stderr",
                "level": "error", "attributes": {"db": {"host": "10.0.0.5", "port": 5432}}},
    "health": {"text": 'GET /health 200 "ok"', "stream": "stdout", "level": "info",
               "attributes": {"http": {"status": 200, "method": "GET"}, "user": "Alice",
                              "duration": 1.5}},
    "cart": {"text": "GET /cart 500", "stream": "stdout", "level": "error",
             "attributes": {"http": {"status": "500"}, "user": None, "tags": ["prod", "eu"]}},
    "disk": {"text": "disk 91% full", "stream": "stdout", "level": "warning",
             "attributes": {"disk": {"percent": 91.0}, "0": "zero"}},
    "deprecation": {"text": "Deprecation: use X and Y, or Z", "stream": "stdout",
                    "level": "warning", "attributes": {"retry": True, "big": 1e20}},
    "cache": {"text": "cache miss key=user:1", "stream": "stdout", "level": "debug",
              "attributes": {"http": "n/a"}},
    "npm": {"text": "npm install --production", "stream": "build", "level": "",
            "attributes": None},
    "street": {"text": "Straße erreicht: Café", "stream": "deploy", "level": ""},
    "panic": {"text": 'panic: said "hi" twice', "stream": "stderr", "level": "critical",
              "attributes": {"list": [1, {"a": 2}]}},
}
EVERY = frozenset(LINES)
ERRORS = {"timeout", "refused", "cart"}

# Each query with the lines it keeps, written down by hand.
QUERIES = [
    ("", EVERY),
    ("   ", EVERY),
    ("timeout", {"timeout"}),
    ("TimeOut", {"timeout"}),
    ('"connection refused"', {"refused"}),
    ("connection refused", {"refused"}),
    ("GET", {"health", "cart"}),
    ("get -500", {"health"}),
    ('"%"', {"disk"}),
    ("_", set()),
    ("key=user:1", {"cache"}),
    ('"said \\"hi\\""', {"panic"}),
    ('"--production"', {"npm"}),
    ("café straße", {"street"}),
    ("STRASSE", set()),
    ("and or", {"deprecation"}),
    ("Z AND Y", {"deprecation"}),
    ("timeout OR refused @stream:stderr", {"timeout", "refused"}),
    ("cart OR timeout @stream:stdout", {"cart"}),
    ("(timeout OR get) @level:error", {"timeout", "cart"}),
    ("-(get OR @stream:stderr)", EVERY - {"health", "cart", "timeout", "refused", "panic"}),
    ("@level:error", ERRORS),
    ("@Level:ERR", ERRORS),
    ("@level:warn", {"disk", "deprecation"}),
    ("@level:warning", {"disk", "deprecation"}),
    ("@level:crit", {"panic"}),
    ("@level:fatal OR @level:CRITICAL", {"panic"}),
    ("@level:*", EVERY - {"npm", "street"}),
    ("-@level:*", {"npm", "street"}),
    ("-@level:debug -@level:info", EVERY - {"cache", "health"}),
    ("@stream:stderr", {"timeout", "refused", "panic"}),
    ("@stream:BUILD OR @stream:deploy", {"npm", "street"}),
    ("@http.status:500", {"cart"}),
    ("@http.status:200", {"health"}),
    ("-@http.status:500", EVERY - {"cart"}),
    ("@http.method:get", {"health"}),
    ("@http:*", {"health", "cart", "cache"}),
    ("@http:* -@http.status:*", {"cache"}),
    ('@http:"N/A"', {"cache"}),
    ("@user:alice", {"health"}),
    ("@user:*", {"health", "cart"}),
    ("-@user:alice", EVERY - {"health"}),
    ("@duration:1.5", {"health"}),
    ("@disk.percent:91.0", {"disk"}),
    ("@disk.percent:91", set()),
    ("@big:100000000000000000000", {"deprecation"}),
    ("@retry:TRUE", {"deprecation"}),
    ("@tags.0:prod OR @tags.1:EU", {"cart"}),
    ("@tags:prod", set()),
    ("@0:zero", {"disk"}),
    ("@list.1.a:2", {"panic"}),
    ("@list:*  -@list.a:*", {"panic"}),
    ("@db.port:5432 @db.host:10.0.0.5", {"refused"}),
    ('@db.host:"10.0.0.5" -@db.port:5432', set()),
    ('@user:"Alice\' OR \'1\'=\'1"', set()),
]


def kept(query: str) -> set[str]:
    log_filter = parse(query)
    return {name for name, line in LINES.items() if log_filter.matches(line)}


@pytest.fixture
def stored(workspace_a):
    """LINES stored as one deployment's log, in workspace A; yields their ids by name."""
    with tenant_context(workspace_a):
        service = create_service(create_project("Search").environments.get(), "api")
        deployment = Deployment.objects.create(service=service, number=1)
        expires_on = timezone.now().date()
        logstore.create_partition(expires_on)
        rows = LogLine.objects.bulk_create([
            LogLine(deployment=deployment, service=service, sequence=sequence,
                    expires_on=expires_on, **line)
            for sequence, line in enumerate(LINES.values(), start=1)
        ])
        yield {name: row.pk for name, row in zip(LINES, rows, strict=True)}


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_stored_and_live_lines_pass_the_same_filter(stored, query, expected):
    log_filter = parse(query)
    found = set(LogLine.objects.filter(log_filter.q()).values_list("pk", flat=True))
    by_id = {pk: name for name, pk in stored.items()}
    assert {by_id[pk] for pk in found} == set(expected)
    assert kept(query) == set(expected)


def test_what_the_user_typed_reaches_the_database_as_parameters(stored):
    hostile = "x' OR '1'='1'; DROP TABLE secrets; --"
    query = LogLine.objects.filter(parse(f'"{hostile}" OR @user:"{hostile}"').q()).query
    sql, params = query.sql_with_params()
    assert "DROP" not in sql
    assert f"%{hostile}%" in params and hostile in params
    assert not LogLine.objects.filter(parse(f'"{hostile}"').q()).exists()
    assert LogLine.objects.count() == len(LINES)


def test_an_empty_query_is_no_filter():
    assert not parse("")
    assert not parse(" \t ")
    assert parse("timeout")


def test_a_live_line_may_lack_attributes_and_level():
    line = {"text": "plain", "stream": "stdout"}
    assert parse("-@user:* -@level:*").matches(line)
    assert not parse("@user:*").matches(line)
    assert parse("PLAIN -@level:error").matches(line)


def test_and_and_or_bind_as_written():
    # AND binds tighter than OR; parentheses change it.
    line = {"text": "b", "stream": "stdout"}
    assert parse("a b OR b").matches(line)
    assert not parse("a (b OR b)").matches(line)
    assert parse("a AND b OR c").matches({"text": "c"})
    assert not parse("a AND (b OR c)").matches({"text": "c"})


@pytest.mark.parametrize(("query", "message"), [
    ('timeout "conn', "Unclosed quote at position 9."),
    ("a )", 'Unmatched ")" at position 3; quote it to search for it: ")".'),
    ("(a OR b", 'Unclosed "(" at position 1.'),
    ("a ()", "Empty parentheses at position 3."),
    ("OR a", '"OR" at position 1 needs a term before it.'),
    ("a OR", '"OR" at position 3 needs a term after it.'),
    ("a AND OR b", '"AND" at position 3 needs a term after it.'),
    ("(a AND) b", '"AND" at position 4 needs a term after it.'),
    ("a - b", 'Nothing to exclude after "-" at position 3; to search for a dash, quote it: "-".'),
    ("-OR", 'Nothing to exclude after "-" at position 1.'),
    ("--port", 'Two "-" in a row at position 1: quote text that starts with "-", e.g. "--port".'),
    ('a ""', "Empty quotes at position 3."),
    ("@:x", 'A name is missing after "@" at position 1, e.g. @level:error.'),
    ("x @user:", 'Empty value after "@user:" at position 3: use @user:* for any value.'),
    ('@user:""', 'Empty value after "@user:" at position 1.'),
    ("@level: error", 'Empty value after "@level:" at position 1: use @level:* for any value.'),
    ("@stream:stdrr", 'Unknown stream "stdrr" at position 1: use build, deploy, stdout or '
                      "stderr."),
    ("@a..b:1", '"a..b" at position 1 is not an attribute name (up to 64 letters, digits, _ - '
                "and .); quote text to search for it."),
    ("@list.-1:x", '"list.-1" at position 1 is not an attribute name (up to 64 letters, digits, '
                   "_ - and .); quote text to search for it."),
    ("@babel/core:7", '"babel/core" at position 1 is not an attribute name (up to 64 letters, '
                      "digits, _ - and .); quote text to search for it."),
    ("@" + "k" * 65 + ":1", f'"{"k" * 20}…" at position 1 is not an attribute name (up to 64 '
                            "letters, digits, _ - and .); quote text to search for it."),
    ("x" * 501, "A filter is at most 500 characters (this one has 501)."),
    (" ".join(["a"] * 31), "A filter has at most 30 terms."),
    ("(" * 11 + "a" + ")" * 11, "Parentheses are nested at most 10 deep (position 11)."),
    ("nul\x00", "The filter contains a character that cannot be searched for."),
    ("\ud800", "The filter contains a character that cannot be searched for."),
])
def test_a_query_that_cannot_run_says_why_in_one_line(query, message):
    with pytest.raises(FilterError) as raised:
        parse(query)
    assert str(raised.value) == message
    assert "\n" not in str(raised.value)


def test_the_limits_themselves_are_allowed():
    assert parse("x" * 500)
    assert parse(" ".join(["a"] * 30))
    assert parse("(" * 10 + "a" + ")" * 10)
    assert parse("@" + "k" * 64 + ":1")


def test_words_that_look_like_syntax_are_words():
    assert kept("@babel/core") == set()  # no colon: a word
    assert parse("@babel/core").matches({"text": "added @babel/core 7.24"})
    assert parse('"@babel/core:7"').matches({"text": "@babel/core:7"})
    assert parse("x-request-id").matches({"text": "X-Request-Id: 1"})
    assert parse('"(" ")"').matches({"text": "f(x)"})
    assert parse('"AND"').matches({"text": "a and b"})
    assert parse('@user:"*"').matches({"attributes": {"user": "*"}})
    assert not parse('@user:"*"').matches({"attributes": {"user": "bob"}})


def test_live_filtering_keeps_up_with_ten_thousand_lines_a_second():
    log_filter = parse('(timeout OR "connection refused" OR @http.status:500) -@level:debug '
                       "-@stream:build")
    lines = [line for line in LINES.values()] * 1000
    started = time.perf_counter()
    for line in lines:
        log_filter.matches(line)
    assert time.perf_counter() - started < 1.0
