"""A log line's terminal escape sequences as inert HTML: SGR colours and attributes become
`<span class="ansi-...">` (classes only, the CSP allows no style attributes; they are defined in
assets/app.css), everything else a terminal would act on is dropped.

    to_html("\\x1b[1;31mError:\\x1b[0m <missing>")
    → '<span class="ansi-bold ansi-fg-1">Error:</span> &lt;missing&gt;'

- Text is always HTML-escaped; the only tags in the output are this module's own spans, never
  nested, each closed before the next opens and at the end of the line (lines are rendered
  alone, so no style carries over from one to the next).
- Supported SGR parameters: 0 (or none) reset, 1 bold, 2 dim, 3 italic, 4 underline (4:0 off),
  7 inverse, 9 strike-through, 22/23/24/27/29 their resets, 30–37/90–97 and 40–47/100–107 the
  16 colours, 39/49 the defaults, 38;5;n/48;5;n (256 colours) and 38;2;r;g;b/48;2;r;g;b
  (truecolour; the colon forms too) mapped to the nearest of the 16. Others (blink, conceal,
  fonts, underline colour...) are ignored.
- Dropped: every other CSI sequence (cursor movement, erasing, private modes), OSC strings
  (window titles, hyperlinks: their text stays, the link goes), DCS/SOS/PM/APC strings, other
  ESC sequences, the C1 forms of these (\\x9b CSI, \\x9d OSC...), every other C0/C1 control
  character (bell, backspace, ...) except tab and line feed.
- A sequence ends where a terminal ends it, at its final byte; one cut short by a character
  that cannot continue it (a control character, non-ASCII text, the end of the line) is dropped
  up to there and that character is kept. A control string (OSC...) ends at BEL or ST, or else
  at the next control character or the end of the line.
- A carriage return starts the line again: of a line a progress bar redrew, what was drawn last
  (the last part with any text) is shown, in the style it was drawn in.
"""

from __future__ import annotations

import re
from html import escape

from django.utils.safestring import SafeString

# Anything a terminal would not simply print (tab and line feed print).
_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# An escape sequence or control character, at the next character a terminal would not print
# (the pattern starts with that class, so the regex engine skips to it quickly). Groups: that
# character; the parameters of an SGR sequence (None for any other match, which is dropped).
_TOKEN = re.compile(
    r"([\x00-\x08\x0b-\x1f\x7f-\x9f])"
    r"(?:"
    # CSI (ESC [ or C1 CSI): SGR, or any other (or one cut short)
    r"(?:(?<=\x1b)\[|(?<=\x9b))(?:([0-9;:]*+)m|[\x30-\x3f]*+[\x20-\x2f]*+[\x40-\x7e]?)"
    # OSC, DCS, SOS, PM, APC strings, up to BEL or ST
    r"|(?:(?<=\x1b)[\]PX^_]|(?<=[\x90\x98\x9d-\x9f]))[^\x00-\x1f\x9c]*+(?:\x07|\x1b\\|\x9c)?"
    # any other ESC sequence (a lone ESC too)
    r"|(?<=\x1b)[\x20-\x2f]*+[\x30-\x7e]?"
    r")?"  # any other control character alone
)

# A style is one int: attribute bits, then the foreground and background colours, each 0 for
# the default or 1 + the colour's number (0-15).
BOLD, DIM, ITALIC, UNDERLINE, INVERSE, STRIKE = 1, 2, 4, 8, 16, 32
_FG, _BG = 6, 11  # shifts
_FG_MASK, _BG_MASK = 31 << _FG, 31 << _BG
_ALL = (1 << 16) - 1
_ATTRIBUTES = ((BOLD, "ansi-bold"), (DIM, "ansi-dim"), (ITALIC, "ansi-italic"),
               (UNDERLINE, "ansi-underline"), (STRIKE, "ansi-strike"))

# The 16 colours as xterm draws them: what 256-colour and truecolour values are matched to.
_BASIC_RGB = (
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
    (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
)


def nearest_basic(red: int, green: int, blue: int) -> int:
    """The nearest of the 16 colours (0-15) to an RGB value, by weighted distance ("redmean")."""
    best, best_distance = 0, None
    for index, (r, g, b) in enumerate(_BASIC_RGB):
        mean = (red + r) / 2
        distance = ((2 + mean / 256) * (red - r) ** 2 + 4 * (green - g) ** 2
                    + (2 + (255 - mean) / 256) * (blue - b) ** 2)
        if best_distance is None or distance < best_distance:
            best, best_distance = index, distance
    return best


def _xterm_256(index: int) -> tuple[int, int, int]:
    if index >= 232:
        level = 8 + 10 * (index - 232)
        return level, level, level
    index -= 16
    levels = (0, 95, 135, 175, 215, 255)
    return levels[index // 36], levels[index // 6 % 6], levels[index % 6]


# 256-colour index → one of the 16: 0-15 are themselves; the cube and the greys the nearest.
_FROM_256 = tuple(range(16)) + tuple(nearest_basic(*_xterm_256(i)) for i in range(16, 256))


_SET = {1: BOLD, 2: DIM, 3: ITALIC, 4: UNDERLINE, 7: INVERSE, 9: STRIKE}
_UNSET = {22: BOLD | DIM, 23: ITALIC, 24: UNDERLINE, 27: INVERSE, 29: STRIKE}
# After 38/48, how many parameters each colour mode takes (itself included): indexed, RGB,
# CMY and CMYK (the last two skipped, not shown).
_COLOUR_PARAMS = {5: 2, 2: 4, 3: 4, 4: 5}


def _number(param: str) -> int:
    """A parameter's value: 0 when empty (ECMA-48's default), -1 when it is not a number."""
    if not param:
        return 0
    try:
        return int(param)
    except ValueError:  # not digits, or more digits than int() takes
        return -1


def _colour(values: list[str]) -> int | None:
    """The colour (0-15) of the parameters after 38/48: [5, n] or [2, r, g, b]; None when
    they do not make one."""
    numbers = [_number(value) for value in values]
    if len(numbers) == 2 and numbers[0] == 5 and 0 <= numbers[1] <= 255:
        return _FROM_256[numbers[1]]
    if len(numbers) == 4 and numbers[0] == 2 and all(0 <= n <= 255 for n in numbers[1:]):
        return nearest_basic(*numbers[1:])
    return None


def _parse_sgr(params: str) -> tuple[int, int]:
    """The parameters of one SGR sequence as (keep, put): the style after it is
    `(style & keep) | put`, whatever the style before (any run of SGR changes is one)."""
    keep, put = _ALL, 0

    def change(mask: int, value: int = 0) -> None:
        nonlocal keep, put
        keep &= ~mask
        put = (put & ~mask) | value

    def colour(code: int, values: list[str]) -> None:
        found = _colour(values)
        if found is not None:
            shift = _FG if code == 38 else _BG
            change(31 << shift, (found + 1) << shift)

    parts = params.split(";")
    i = 0
    while i < len(parts):
        part = parts[i]
        i += 1
        if ":" in part:  # ITU T.416 sub-parameters: 38:5:n, 38:2:[space]:r:g:b, 4:n
            head, *sub = part.split(":")
            code = _number(head)
            if code in (38, 48):
                if len(sub) == 5 and _number(sub[0]) == 2:
                    del sub[1]  # the colour space
                colour(code, sub)
            elif code == 4:
                change(UNDERLINE, UNDERLINE if _number(sub[0]) > 0 else 0)
            continue
        code = _number(part)
        if code == 0:
            keep, put = 0, 0
        elif 30 <= code <= 37:
            change(_FG_MASK, (code - 29) << _FG)
        elif 40 <= code <= 47:
            change(_BG_MASK, (code - 39) << _BG)
        elif 90 <= code <= 97:
            change(_FG_MASK, (code - 81) << _FG)
        elif 100 <= code <= 107:
            change(_BG_MASK, (code - 91) << _BG)
        elif code in (38, 48):
            mode = _number(parts[i]) if i < len(parts) else -1
            count = _COLOUR_PARAMS.get(mode, 1)
            colour(code, parts[i:i + count])
            i += count
        elif code in _SET:
            change(_SET[code], _SET[code])
        elif code in _UNSET:
            change(_UNSET[code])
        elif code == 39:
            change(_FG_MASK)
        elif code == 49:
            change(_BG_MASK)
    return keep, put


# Parsed SGR parameters and opening tags, filled as lines need them. The tags are bounded by the
# number of styles; the parameters (any string a line carries) by _SGR_CACHE_SIZE.
_SGR_CACHE: dict[str, tuple[int, int]] = {}
_SGR_CACHE_SIZE = 1024
_TAGS: dict[int, str] = {}


def _sgr(params: str) -> tuple[int, int]:
    change = _SGR_CACHE.get(params)
    if change is None:
        change = _parse_sgr(params)
        if len(_SGR_CACHE) < _SGR_CACHE_SIZE:
            _SGR_CACHE[params] = change
    return change


def _open_tag(style: int) -> str:
    tag = _TAGS.get(style)
    if tag is None:
        classes = [name for bit, name in _ATTRIBUTES if style & bit]
        fg, bg = (style & _FG_MASK) >> _FG, (style & _BG_MASK) >> _BG
        if style & INVERSE:  # the colours swap; .ansi-inverse stands for the defaults
            classes.append("ansi-inverse")
            fg, bg = bg, fg
        if fg:
            classes.append(f"ansi-fg-{fg - 1}")
        if bg:
            classes.append(f"ansi-bg-{bg - 1}")
        tag = _TAGS[style] = f'<span class="{" ".join(classes)}">'
    return tag


def to_html(text: str) -> SafeString:
    """One log line as safe HTML: escaped text, its SGR styles as spans, every other escape
    sequence and control character dropped, only what was drawn after the last carriage
    return."""
    if text.isprintable() or not _SPECIAL.search(text):
        return SafeString(escape(text))
    # Text, the character a match starts with, SGR parameters or None, text, ...: the text
    # escaped all at once, joined on a character it cannot hold (NUL is a control character).
    pieces = _TOKEN.split(text)
    chunks = escape("\0".join(pieces[::3])).split("\0")
    pieces += (None, None)  # after the last text, nothing
    out: list[str] = []
    drawn: list[str] | None = None  # what was drawn before the last carriage return
    style = 0  # the style of the text that comes next
    shown = 0  # the style of the open span (0: none open)
    for chunk, lead, params in zip(chunks, pieces[1::3], pieces[2::3], strict=True):
        if chunk:
            if style != shown:
                if shown:
                    out.append("</span>")
                if style:
                    out.append(_TAGS.get(style) or _open_tag(style))
                shown = style
            out.append(chunk)
        if params is not None:
            keep, put = _SGR_CACHE.get(params) or _sgr(params)
            style = (style & keep) | put
        elif lead == "\r" and out:
            if shown:
                out.append("</span>")
            drawn, out, shown = out, [], 0
    if not out:
        return SafeString("".join(drawn or ()))
    if shown:
        out.append("</span>")
    return SafeString("".join(out))


def to_text(text: str) -> str:
    """One log line as plain text (a download): what `to_html` shows, without the styles."""
    if text.isprintable() or not _SPECIAL.search(text):
        return text
    pieces = _TOKEN.split(text)
    drawn = ""
    current: list[str] = []
    for chunk, lead in zip(pieces[::3], [*pieces[1::3], None], strict=True):
        current.append(chunk)
        if lead == "\r" and "".join(current):
            drawn, current = "".join(current), []
    return "".join(current) or drawn
