import random

import pytest
from django.core.exceptions import ValidationError

from projects.dotenv import (
    MAX_KEY_LENGTH,
    MAX_VALUE_BYTES,
    EnvParseError,
    parse_env,
    render_env,
    validate_key,
    validate_value,
)

SECRET = "hunter2-s3cr3t"


def problems(text: str) -> list[str]:
    with pytest.raises(EnvParseError) as caught:
        parse_env(text)
    return caught.value.messages


# Parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("\n\n   \n", {}),
        ("FOO=bar", {"FOO": "bar"}),
        ("FOO=bar\n", {"FOO": "bar"}),
        ("# a comment\nFOO=bar\n\n# another\n", {"FOO": "bar"}),
        ("  # indented comment\nFOO=bar", {"FOO": "bar"}),
        ("FOO=bar # inline comment", {"FOO": "bar"}),
        ("FOO=bar#not-a-comment", {"FOO": "bar#not-a-comment"}),
        ("FOO=#value", {"FOO": "#value"}),
        ("FOO= # only a comment", {"FOO": ""}),
        ("FOO=", {"FOO": ""}),
        ("FOO=''", {"FOO": ""}),
        ('FOO=""', {"FOO": ""}),
        ("export FOO=bar", {"FOO": "bar"}),
        ("export   FOO = bar", {"FOO": "bar"}),
        ("FOO = bar", {"FOO": "bar"}),
        ("FOO\t=\tbar  ", {"FOO": "bar"}),
        ("   FOO=bar", {"FOO": "bar"}),
        ("FOO=two words", {"FOO": "two words"}),
        ("URL=postgres://u:p@h/db?a=b&c=d", {"URL": "postgres://u:p@h/db?a=b&c=d"}),
        ("FOO==", {"FOO": "="}),
        ("FOO=it's", {"FOO": "it's"}),
        ("FOO=C:\\path\\n", {"FOO": "C:\\path\\n"}),
        # Single quotes: literal, except \\ and \'.
        ("FOO='a b # c'", {"FOO": "a b # c"}),
        ("FOO='$HOME \\n \"x\"'", {"FOO": '$HOME \\n "x"'}),
        ("FOO='it\\'s' # comment", {"FOO": "it's"}),
        ("FOO='a\\\\b'", {"FOO": "a\\b"}),
        # Double quotes: escapes.
        ('FOO="a\\nb"', {"FOO": "a\nb"}),
        ('FOO="say \\"hi\\""', {"FOO": 'say "hi"'}),
        ('FOO="back\\\\slash"', {"FOO": "back\\slash"}),
        ('FOO="tab\\there"', {"FOO": "tab\there"}),
        ('FOO="cr\\r"', {"FOO": "cr\r"}),
        ('FOO="  padded  " # comment', {"FOO": "  padded  "}),
        ('FOO="it\'s"', {"FOO": "it's"}),
        ('FOO="# not a comment"', {"FOO": "# not a comment"}),
        ('FOO="héllo ✓ 🚀"', {"FOO": "héllo ✓ 🚀"}),
        # Literal multi-line values.
        (
            'KEY="-----BEGIN-----\nabc\n-----END-----"',
            {"KEY": "-----BEGIN-----\nabc\n-----END-----"},
        ),
        ("KEY='line 1\n  line 2\n'\nNEXT=1", {"KEY": "line 1\n  line 2\n", "NEXT": "1"}),
        # No interpolation.
        ("A=1\nB=${A}\nC=$A", {"A": "1", "B": "${A}", "C": "$A"}),
        ("DB=${{ postgres.DATABASE_URL }}", {"DB": "${{ postgres.DATABASE_URL }}"}),
        ('DB="${{postgres.URL}}/x"', {"DB": "${{postgres.URL}}/x"}),
        # Keys.
        ("_private=1\nlower_case=2\nA1=3", {"_private": "1", "lower_case": "2", "A1": "3"}),
        ("'QUOTED'=1", {"QUOTED": "1"}),
        # Later duplicates win.
        ("FOO=1\nBAR=2\nFOO=3", {"FOO": "3", "BAR": "2"}),
        # Windows / browser line endings, a byte-order mark.
        ('A=1\r\nB="x\r\ny"\r\n', {"A": "1", "B": "x\ny"}),
        ("A=1\rB=2", {"A": "1", "B": "2"}),
        ("\ufeffA=1", {"A": "1"}),
    ],
)
def test_parse(text, expected):
    assert parse_env(text) == expected


def test_parse_a_whole_file():
    text = """\
# Production settings
export DEBUG=false

DATABASE_URL = ${{ postgres.DATABASE_URL }}   # from the postgres service
SECRET_KEY='p@ss=word#1 $NOT_EXPANDED'
GREETING="Hello,\\n\\"world\\""
PRIVATE_KEY="-----BEGIN KEY-----
MIIB
-----END KEY-----"
EMPTY=
DEBUG=true
"""
    assert parse_env(text) == {
        "DEBUG": "true",
        "DATABASE_URL": "${{ postgres.DATABASE_URL }}",
        "SECRET_KEY": "p@ss=word#1 $NOT_EXPANDED",
        "GREETING": 'Hello,\n"world"',
        "PRIVATE_KEY": "-----BEGIN KEY-----\nMIIB\n-----END KEY-----",
        "EMPTY": "",
    }


def test_unquoted_reference_with_spaces_needs_quotes():
    # Whitespace then `#` starts a comment, but a space alone does not: the reference is kept.
    assert parse_env("DB=${{ postgres.URL }}") == {"DB": "${{ postgres.URL }}"}
    assert parse_env('DB="${{ postgres.URL }}" # c') == {"DB": "${{ postgres.URL }}"}


# Errors


def test_every_problem_is_reported_with_its_line():
    text = f"""\
GOOD=1
1ABC={SECRET}
FOO-BAR={SECRET}
just words {SECRET}
BARE
=nokey{SECRET}

QUOTED="{SECRET}
ALSO_GOOD=2
AFTER="{SECRET}" trailing
BARE_WITH_COMMENT # comment
sk-{SECRET}
LAST="{SECRET}
"""
    assert problems(text) == [
        "line 2: Key must not start with a digit.",
        "line 3: Key may only contain letters A-Z, a-z, digits and underscores (found '-').",
        "line 4: expected KEY=value (no '=' on this line)",
        "line 5: a key with no value (write KEY= for an empty one)",
        "line 6: no key before '='",
        # The quote closes at the first one on line 10 (ALSO_GOOD and AFTER are inside it).
        'line 8: the " quote opened here closes on line 10, which has text after it'
        " (is a quote missing?)",
        "line 11: a key with no value (write KEY= for an empty one)",
        "line 12: expected KEY=value (no '=' on this line)",
        'line 13: the " quote is never closed',
    ]


def test_errors_never_echo_values():
    text = (
        f"1BAD={SECRET}\nFOO.BAR='{SECRET}'\n{SECRET}\nBIG={SECRET * 3000}\n"
        f'X=\'{SECRET}\nY="{SECRET}" {SECRET}\nZ={SECRET}\0\n{SECRET}=x'
    )
    with pytest.raises(EnvParseError) as caught:
        parse_env(text)
    assert len(caught.value.messages) == 8
    assert SECRET not in str(caught.value)
    for message in caught.value.messages:
        assert SECRET not in message
        assert "s3cr3t" not in message


def test_line_numbers_count_multi_line_values_and_blank_lines():
    text = "A=\"one\ntwo\nthree\"\n\n\n# comment\n\n9BAD=x\nB='x\ny'\n  bare words"
    assert problems(text) == [
        "line 8: Key must not start with a digit.",
        "line 11: expected KEY=value (no '=' on this line)",
    ]


def test_line_numbers_with_windows_line_endings():
    assert problems("A=1\r\nB='x' y\r\nC=2\r\nbare words\r\n") == [
        "line 2: unexpected text after the closing quote (start a comment with ' #')",
        "line 4: expected KEY=value (no '=' on this line)",
    ]


def test_unclosed_quote_does_not_swallow_later_lines():
    assert problems("A='open\nB=1\nC=two words\nD") == [
        "line 1: the ' quote is never closed",
        "line 4: a key with no value (write KEY= for an empty one)",
    ]


def test_nothing_partial_on_error():
    with pytest.raises(EnvParseError):
        parse_env("GOOD=1\nBAD LINE\nALSO_GOOD=2")


def test_parse_error_is_a_validation_error():
    with pytest.raises(ValidationError) as caught:
        parse_env("nope")
    assert caught.value.messages == ["line 1: a key with no value (write KEY= for an empty one)"]


def test_over_limit_value_in_text():
    assert problems(f'OK=x\nBIG="{"é" * (MAX_VALUE_BYTES // 2)}x"') == [
        "line 2: Value of BIG is 32,769 bytes; the limit is 32 KiB."
    ]


def test_key_limit_in_text():
    ok, long = "K" * MAX_KEY_LENGTH, "K" * (MAX_KEY_LENGTH + 1)
    assert parse_env(f"{ok}=1") == {ok: "1"}
    assert problems(f"{ok}=1\n{long}=2") == ["line 2: Key is 256 characters; the limit is 255."]
    assert problems(long) == ["line 1: expected KEY=value (no '=' on this line)"]


def test_unicode_key_refused():
    assert problems("CAFÉ=1") == [
        "line 1: Key may only contain letters A-Z, a-z, digits and underscores (found 'É')."
    ]


# validate_key, validate_value


@pytest.mark.parametrize("key", ["A", "_", "_A1", "foo_bar", "DATABASE_URL", "K" * MAX_KEY_LENGTH])
def test_valid_keys(key):
    validate_key(key)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Key is empty."),
        ("1ABC", "Key must not start with a digit."),
        ("9", "Key must not start with a digit."),
        ("FOO-BAR", "Key may only contain letters A-Z, a-z, digits and underscores (found '-')."),
        ("A B.C", "Key may only contain letters A-Z, a-z, digits and underscores (found ' ' '.')."),
        ("K" * 256, "Key is 256 characters; the limit is 255."),
        ("K" * 1000, "Key is 1,000 characters; the limit is 255."),
    ],
)
def test_invalid_keys(key, message):
    with pytest.raises(ValidationError) as caught:
        validate_key(key)
    assert caught.value.messages == [message]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * MAX_VALUE_BYTES,
        "é" * (MAX_VALUE_BYTES // 2),  # 2 bytes each
        "€" * (MAX_VALUE_BYTES // 3) + "é",  # 3 bytes each, 32,766 + 2
        "🚀" * (MAX_VALUE_BYTES // 4),  # 4 bytes each
        "multi\nline\r\nvalue",
    ],
)
def test_values_within_limit(value):
    validate_value(value, "FOO")


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("x" * (MAX_VALUE_BYTES + 1), "32,769"),
        ("é" * (MAX_VALUE_BYTES // 2) + "x", "32,769"),
        ("€" * (MAX_VALUE_BYTES // 3) + "é" + "x", "32,769"),
        ("🚀" * (MAX_VALUE_BYTES // 4 + 1), "32,772"),
        ("é" * 20_000, "40,000"),
    ],
)
def test_values_over_limit(value, size):
    assert len(value) <= MAX_VALUE_BYTES + 1  # the limit is in bytes, not characters
    with pytest.raises(ValidationError) as caught:
        validate_value(value, "FOO")
    assert caught.value.messages == [f"Value of FOO is {size} bytes; the limit is 32 KiB."]


def test_value_message_without_key():
    with pytest.raises(ValidationError) as caught:
        validate_value("x" * 40_000)
    assert caught.value.messages == ["Value is 40,000 bytes; the limit is 32 KiB."]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            f"{SECRET}\0",
            "Value of FOO contains a NUL character, which an environment variable cannot hold.",
        ),
        (f"{SECRET}\ud800", "Value of FOO is not valid UTF-8."),
    ],
)
def test_unstorable_values(value, message):
    with pytest.raises(ValidationError) as caught:
        validate_value(value, "FOO")
    assert caught.value.messages == [message]


# Rendering


def test_render():
    variables = {
        "PLAIN": "value",
        "URL": "postgres://u:p@h:5432/db?a=b&c=d",
        "EMPTY": "",
        "REF": "${{ postgres.DATABASE_URL }}",
        "SPACED": " padded ",
        "HASH": "a#b",
        "QUOTES": 'it\'s "quoted"',
        "BACKSLASH": "C:\\new",
        "MULTI": "line 1\nline 2",
        "CR": "a\r\nb",
        "A_FIRST": "1",
    }
    assert render_env(variables) == (
        "A_FIRST=1\n"
        'BACKSLASH="C:\\\\new"\n'
        'CR="a\\r\nb"\n'
        "EMPTY=\n"
        'HASH="a#b"\n'
        'MULTI="line 1\nline 2"\n'
        "PLAIN=value\n"
        'QUOTES="it\'s \\"quoted\\""\n'
        'REF="${{ postgres.DATABASE_URL }}"\n'
        'SPACED=" padded "\n'
        "URL=postgres://u:p@h:5432/db?a=b&c=d\n"
    )
    assert parse_env(render_env(variables)) == variables


def test_render_nothing():
    assert render_env({}) == ""


def test_render_refuses_invalid_keys_and_values():
    with pytest.raises(ValidationError):
        render_env({"FOO-BAR": "x"})
    with pytest.raises(ValidationError):
        render_env({"FOO": "x" * (MAX_VALUE_BYTES + 1)})


TRICKY_VALUES = [
    "",
    " ",
    "  leading",
    "trailing  ",
    "\t",
    "\n",
    "\n\n",
    "\r",
    "\r\n",
    "a\nb\r\nc\rd",
    "#",
    "#hash",
    "a #b",
    "a#b",
    " # ",
    "'",
    '"',
    "''",
    '""',
    "'single'",
    '"double"',
    "it's",
    'say "hi"',
    "\\",
    "\\\\",
    "\\n",
    "\\'",
    '\\"',
    "ends with backslash\\",
    '"\\',
    "'\\",
    "=",
    "==",
    "a=b",
    "postgres://u:p@h/db?a=b",
    "${X}",
    "$X",
    "${{ x.Y }}",
    "${{x.Y}}",
    "prefix-${{ api.URL }}/suffix",
    "export FOO=bar",
    "FOO=bar\nBAR=baz",
    'KEY="x"\n# not a comment',
    "é ✓ 🚀",
    "\u00a0nbsp\u00a0",
    "zero\u200bwidth",
    "\u2028line separator\x85",
    "\ufeffbom",
    "\x01\x1b[31mcontrol",
    "-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n",
    "x" * MAX_VALUE_BYTES,
]


@pytest.mark.parametrize("value", TRICKY_VALUES)
def test_round_trip_each_value(value):
    variables = {"FOO": value}
    assert parse_env(render_env(variables)) == variables


def test_round_trip_all_values_at_once():
    variables = {f"K{i:03}": value for i, value in enumerate(TRICKY_VALUES)}
    variables["export"] = "bar"
    assert parse_env(render_env(variables)) == variables


def test_round_trip_random_values():
    # A seeded property test over an alphabet of characters that matter to the parser.
    rng = random.Random(20240501)
    alphabet = " \t\n\r\"'\\#=${}.xY_é🚀\u00a0\x0b\x0c"
    for _ in range(500):
        variables = {
            f"K{i}": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
            for i in range(rng.randint(1, 5))
        }
        assert parse_env(render_env(variables)) == variables, variables


def test_unquoted_only_when_plain():
    assert render_env({"A": "x", "B": "a=b", "C": "${X}"}) == "A=x\nB=a=b\nC=${X}\n"
