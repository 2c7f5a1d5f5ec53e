"""Parse and write `.env` text for the raw variable editor.

Parsing is python-dotenv's own parser, without its variable interpolation: `${X}` and
`${{ service.KEY }}` stay literal (the panel resolves `${{ ... }}` at deploy time). Messages
never contain a value, which may be a secret, nor a key that is not valid, which may be a
secret pasted on a line of its own.
"""

import io
import re

from django.core.exceptions import ValidationError
from dotenv.parser import parse_stream

KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_KEY_LENGTH = 255
MAX_VALUE_BYTES = 32 * 1024

_QUOTED_VALUE = {q: re.compile(rf"{q}(?:\\.|[^{q}\\])*{q}", re.DOTALL) for q in "'\""}


class EnvParseError(ValidationError):
    """The text has problems; `messages` holds one "line N: ..." entry per problem."""


def validate_key(key: str) -> None:
    """Raise ValidationError unless `key` is a valid variable name."""
    if not key:
        raise ValidationError("Key is empty.", code="invalid_key")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"Key is {len(key):,} characters; the limit is {MAX_KEY_LENGTH}.", code="key_too_long"
        )
    bad = sorted(set(re.sub(r"[A-Za-z0-9_]", "", key)))
    if bad:
        shown = " ".join(repr(c) for c in bad[:5])
        raise ValidationError(
            f"Key may only contain letters A-Z, a-z, digits and underscores (found {shown}).",
            code="invalid_key",
        )
    if key[0].isdigit():
        raise ValidationError("Key must not start with a digit.", code="invalid_key")


def validate_value(value: str, key: str | None = None) -> None:
    """Raise ValidationError if `value` cannot be stored or passed to a process.

    `key`, if given, names the variable in the message; the value itself never appears.
    """
    name = f"Value of {key}" if key else "Value"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError(f"{name} is not valid UTF-8.", code="invalid_value") from None
    if size > MAX_VALUE_BYTES:
        raise ValidationError(
            f"{name} is {size:,} bytes; the limit is {MAX_VALUE_BYTES // 1024} KiB.",
            code="value_too_long",
        )
    if "\0" in value:
        raise ValidationError(
            f"{name} contains a NUL character, which an environment variable cannot hold.",
            code="invalid_value",
        )


def _unparsable(statement: str, line: int) -> str:
    """Why python-dotenv could not parse `statement`, which starts on `line`, without quoting it."""
    first = statement.split("\n", 1)[0].strip().removeprefix("export").lstrip()
    if first.startswith("="):
        return "no key before '='"
    if "=" not in first:
        return "expected KEY=value (no '=' on this line)"
    rest = statement[statement.index("=") + 1 :].lstrip(" \t")
    quote = rest[:1]
    if quote not in _QUOTED_VALUE:
        return "cannot be parsed as KEY=value"
    if not (value := _QUOTED_VALUE[quote].match(rest)):
        return f"the {quote} quote is never closed"
    if closing := value.group().count("\n"):
        return (
            f"the {quote} quote opened here closes on line {line + closing}, which has text "
            "after it (is a quote missing?)"
        )
    return "unexpected text after the closing quote (start a comment with ' #')"


def parse_env(text: str) -> dict[str, str]:
    r"""The variables in dotenv `text`; raise EnvParseError listing every problem.

    Follows the dotenv convention: `#` comments (inline ones after whitespace), blank lines,
    `export ` prefixes, literal single quotes (only \\ and \' are escapes), double quotes
    with escapes (\n, \", \\, ...), multi-line quoted values. A key given twice takes its
    last value. Line endings are normalised to \n first (browsers send \r\n), so a carriage
    return in a value must be written as "\r". Nothing is returned if any line has a problem.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    variables: dict[str, str] = {}
    problems: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        statement = binding.original.string
        blank = statement[: len(statement) - len(statement.lstrip())]
        line = binding.original.line + blank.count("\n")
        if binding.error:
            problems.append(f"line {line}: {_unparsable(statement.lstrip(), line)}")
            continue
        key, value = binding.key, binding.value
        if key is None:  # blank lines, comments
            continue
        if value is None:
            if KEY_PATTERN.fullmatch(key) and len(key) <= MAX_KEY_LENGTH:
                # The token is not echoed: a secret pasted alone on a line looks like a key.
                problems.append(f"line {line}: a key with no value (write KEY= for an empty one)")
            else:
                problems.append(f"line {line}: expected KEY=value (no '=' on this line)")
            continue
        try:
            validate_key(key)
            validate_value(value, key)
        except ValidationError as error:
            problems.extend(f"line {line}: {message}" for message in error.messages)
            continue
        variables[key] = value
    if problems:
        raise EnvParseError(problems, code="invalid_env")
    return variables


def _quote(value: str) -> str:
    if value == "" or (value.isprintable() and not set(value) & set(" '\"\\#")):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
    return f'"{escaped}"'


def render_env(variables: dict[str, str]) -> str:
    r"""Dotenv text, sorted by key, that `parse_env` reads back as exactly `variables`.

    Plain values stay unquoted (KEY=value); others are double-quoted with \\, \" and \r
    escaped and newlines kept literal. Raise ValidationError for an invalid key or value.
    """
    for key, value in variables.items():
        validate_key(key)
        validate_value(value, key)
    return "".join(f"{key}={_quote(variables[key])}\n" for key in sorted(variables))
