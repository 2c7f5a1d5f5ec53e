"""Terminal output in the log view: SGR colours shown as classes of spans, every other escape
sequence and control character inert, text always escaped (deployments/ansi.py)."""

from __future__ import annotations

import random
import re
from itertools import product
from pathlib import Path

import pytest
from django.utils.safestring import SafeString

from deployments import ansi
from deployments.ansi import to_html, to_text

OWN_TAG = re.compile(r'<span class="ansi-[a-z0-9 -]+">|</span>')
APP_CSS = Path(__file__).resolve().parents[2] / "assets" / "app.css"


def span(classes: str, text: str) -> str:
    return f'<span class="{classes}">{text}</span>'


def assert_inert(html: str) -> None:
    """Only this module's spans, flat and balanced; everything else escaped text without a
    control character a browser or a copy-paste into a terminal could act on."""
    tags = OWN_TAG.findall(html)
    assert [tag == "</span>" for tag in tags] == [False, True] * (len(tags) // 2), html
    text = OWN_TAG.sub("", html)
    assert not re.search(r"[<>\"']", text), html
    assert not re.search(r"&(?!(?:amp|lt|gt|quot|#x27);)", text), html
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", html), html


@pytest.mark.parametrize(("text", "html"), [
    ("hello, world", "hello, world"),
    ("", ""),
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ('<img src=x onerror="alert(1)">', "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"),
    ("Tom & Jerry's", "Tom &amp; Jerry&#x27;s"),
    ("\tat main (index.js:3:9)", "\tat main (index.js:3:9)"),  # tabs stay
    ("naïve — ünïcödé ✓", "naïve — ünïcödé ✓"),
])
def test_plain_text_is_escaped_and_otherwise_unchanged(text, html):
    assert to_html(text) == html
    assert isinstance(to_html(text), SafeString)


@pytest.mark.parametrize(("code", "classes"), [
    *[(str(30 + n), f"ansi-fg-{n}") for n in range(8)],
    *[(str(90 + n), f"ansi-fg-{8 + n}") for n in range(8)],
    *[(str(40 + n), f"ansi-bg-{n}") for n in range(8)],
    *[(str(100 + n), f"ansi-bg-{8 + n}") for n in range(8)],
    ("1", "ansi-bold"), ("2", "ansi-dim"), ("3", "ansi-italic"), ("4", "ansi-underline"),
    ("9", "ansi-strike"), ("4:1", "ansi-underline"), ("4:3", "ansi-underline"),
])
def test_each_colour_and_attribute_is_a_class(code, classes):
    assert to_html(f"a\x1b[{code}mb\x1b[0mc") == f"a{span(classes, 'b')}c"


@pytest.mark.parametrize(("text", "html"), [
    ("\x1b[31merror\x1b[0m: build failed", span("ansi-fg-1", "error") + ": build failed"),
    ("\x1b[32mok\x1b[m plain", span("ansi-fg-2", "ok") + " plain"),  # no parameter: reset
    ("\x1b[32mok\x1b[;m plain", span("ansi-fg-2", "ok") + " plain"),
    ("\x1b[31mred\x1b[39m default", span("ansi-fg-1", "red") + " default"),
    ("\x1b[41mred\x1b[49m default", span("ansi-bg-1", "red") + " default"),
    ("\x1b[1mA\x1b[22mB", span("ansi-bold", "A") + "B"),
    ("\x1b[2mA\x1b[22mB", span("ansi-dim", "A") + "B"),
    ("\x1b[1;2mA\x1b[22mB", span("ansi-bold ansi-dim", "A") + "B"),
    ("\x1b[3mA\x1b[23mB", span("ansi-italic", "A") + "B"),
    ("\x1b[4mA\x1b[24mB", span("ansi-underline", "A") + "B"),
    ("\x1b[4mA\x1b[4:0mB", span("ansi-underline", "A") + "B"),
    ("\x1b[9mA\x1b[29mB", span("ansi-strike", "A") + "B"),
    ("\x1b[31;0mX", "X"),  # the reset comes last
    ("\x1b[;31mX", span("ansi-fg-1", "X")),  # an empty parameter is 0
    ("\x1b[0;1;31mX", span("ansi-bold ansi-fg-1", "X")),
    ("\x1b[31;42mX", span("ansi-fg-1 ansi-bg-2", "X")),
    ("\x1b[31m\x1b[42mX", span("ansi-fg-1 ansi-bg-2", "X")),
    ("\x1b[31;32mX", span("ansi-fg-2", "X")),  # the last colour wins
    ("\x1b[31mA\x1b[31mB", span("ansi-fg-1", "AB")),  # no change: one span
    ("\x1b[31m\x1b[0mtext", "text"),  # no empty spans
    ("\x1b[31mred", span("ansi-fg-1", "red")),  # closed at the end of the line
    ("\x1b[31mred\x1b[0m", span("ansi-fg-1", "red")),
    ("a \x1b[31mred\x1b[0m, \x1b[32mgreen\x1b[0m.",
     "a " + span("ansi-fg-1", "red") + ", " + span("ansi-fg-2", "green") + "."),
    # 5 blink, 6, 8 conceal (the text stays visible), 21, 51, 73, 999: ignored
    ("\x1b[5;31;73mX", span("ansi-fg-1", "X")),
    ("\x1b[8msecret\x1b[28m", "secret"),
    ("\x1b[6;21;51;999mX", "X"),
    ("\x1b[" + "9" * 5000 + ";31mX", span("ansi-fg-1", "X")),  # a number too long for int()
    ("\x1b[7m PASS \x1b[27m", span("ansi-inverse", " PASS ")),
    ("\x1b[7;1;32m PASS \x1b[0m", span("ansi-bold ansi-inverse ansi-bg-2", " PASS ")),
    ("\x1b[7;31;44mX", span("ansi-inverse ansi-fg-4 ansi-bg-1", "X")),  # swapped
    ("\x1b[30;43mWARN\x1b[0m", span("ansi-fg-0 ansi-bg-3", "WARN")),
])
def test_styles_change_and_reset_within_a_line(text, html):
    assert to_html(text) == html


def test_bold_and_a_colour_nest_as_a_terminal_draws_them():
    text = "\x1b[1mbold \x1b[32mbold green\x1b[22m green\x1b[39m plain \x1b[4;33mu\x1b[0m"
    assert to_html(text) == (
        span("ansi-bold", "bold ") + span("ansi-bold ansi-fg-2", "bold green")
        + span("ansi-fg-2", " green") + " plain " + span("ansi-underline ansi-fg-3", "u"))
    assert to_html("\x1b[1;2;3;4;9;31;42mX") == span(
        "ansi-bold ansi-dim ansi-italic ansi-underline ansi-strike ansi-fg-1 ansi-bg-2", "X")


def test_styles_do_not_carry_over_to_the_next_line():
    assert to_html("\x1b[1;31mstarts red") == span("ansi-bold ansi-fg-1", "starts red")
    assert to_html("next line") == "next line"


@pytest.mark.parametrize(("params", "classes"), [
    *[(f"38;5;{n}", f"ansi-fg-{n}") for n in range(16)],
    *[(f"48;5;{n}", f"ansi-bg-{n}") for n in range(16)],
    ("38;5;196", "ansi-fg-9"),  # #ff0000
    ("38;5;46", "ansi-fg-10"),  # #00ff00
    ("38;5;21", "ansi-fg-4"),  # #0000ff
    ("38;5;226", "ansi-fg-11"),  # #ffff00
    ("38;5;51", "ansi-fg-14"),  # #00ffff
    ("38;5;201", "ansi-fg-13"),  # #ff00ff
    ("38;5;231", "ansi-fg-15"),  # #ffffff
    ("38;5;16", "ansi-fg-0"),  # #000000
    ("38;5;124", "ansi-fg-1"),  # #af0000
    ("38;5;208", "ansi-fg-3"),  # orange #ff8700: yellow (xterm's is 205,205,0)
    ("38;5;232", "ansi-fg-0"),  # the greys: dark, mid, light
    ("38;5;244", "ansi-fg-8"),
    ("38;5;252", "ansi-fg-7"),
    ("48;5;160", "ansi-bg-1"),
    ("38;2;255;0;0", "ansi-fg-9"),
    ("38;2;200;10;10", "ansi-fg-1"),
    ("38;2;10;200;10", "ansi-fg-2"),
    ("38;2;0;0;0", "ansi-fg-0"),
    ("38;2;250;250;250", "ansi-fg-15"),
    ("38;2;128;128;128", "ansi-fg-8"),
    ("48;2;0;0;205", "ansi-bg-4"),
    ("48;2;0;255;255", "ansi-bg-14"),
    # The colon forms of ITU T.416, with and without the colour space.
    ("38:5:196", "ansi-fg-9"),
    ("48:5:2", "ansi-bg-2"),
    ("38:2:255:0:0", "ansi-fg-9"),
    ("38:2::255:0:0", "ansi-fg-9"),
    ("38:2:0:0:255:0", "ansi-fg-10"),
    # What follows a colour still counts.
    ("38;5;196;1", "ansi-bold ansi-fg-9"),
    ("38;2;255;0;0;4;48;5;4", "ansi-underline ansi-fg-9 ansi-bg-4"),
    ("1;38;5;9;48;2;0;0;0", "ansi-bold ansi-fg-9 ansi-bg-0"),
])
def test_256_and_truecolour_map_to_the_nearest_of_the_16(params, classes):
    assert to_html(f"\x1b[{params}mX") == span(classes, "X")


@pytest.mark.parametrize(("params", "html"), [
    ("38;5", "X"),  # no index
    ("38", "X"),
    ("38;5;256", "X"),  # out of range
    ("38;5;999;1", span("ansi-bold", "X")),  # the index is used up; 1 still applies
    ("38;2;255;0", "X"),  # a component missing
    ("38;2;255;0;300;1", span("ansi-bold", "X")),  # out of range
    ("38;3;10;20;30;4", span("ansi-underline", "X")),  # CMY: its values skipped, no colour
    ("38;4;1;2;3;4;9", span("ansi-strike", "X")),  # CMYK
    ("38;9;1", span("ansi-bold", "X")),  # an unknown mode: only it is skipped
    ("38:5", "X"),
    ("38:2:1:2", "X"),
    ("48;5;;31", span("ansi-fg-1 ansi-bg-0", "X")),  # an empty index is 0
])
def test_malformed_colours_are_ignored(params, html):
    assert to_html(f"\x1b[{params}mX") == html


@pytest.mark.parametrize(("text", "html"), [
    # Screen and cursor: erase, home, moves, scroll region, save/restore, reset.
    ("\x1b[2J\x1b[Hcleared?", "cleared?"),
    ("\x1b[2J\x1b[H", ""),
    ("abc\x1b[3Dxyz\x1b[1A\x1b[10;20H\x1b[K\x1b[1;5r", "abcxyz"),
    ("\x1b7saved\x1b8\x1bc\x1b#8", "saved"),  # DECSC, DECRC, RIS, DECALN
    ("\x1b(0lqk\x1b(B", "lqk"),  # charset designations
    # Private modes: alternate screen, hidden cursor, bracketed paste.
    ("\x1b[?1049h\x1b[?25l\x1b[?2004hhidden cursor\x1b[?25h", "hidden cursor"),
    ("\x1b[>4;1m\x1b[?1mtext", "text"),  # private-parameter "m" sequences are not SGR
    ("\x1b[0 qtext", "text"),  # with an intermediate byte
    # OSC: window title (BEL or ST), hyperlink (the text stays, the link goes), clipboard.
    ("\x1b]0;title\x07after", "after"),
    ("\x1b]2;title\x1b\\after", "after"),
    ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),
    ("\x1b]8;id=1;javascript:alert(1)\x07click\x1b]8;;\x07", "click"),
    ("\x1b]52;c;cm0gLXJmIC8K\x07pasted", "pasted"),
    ("\x1b]0;<script>alert(1)</script>\x07", ""),
    # DCS (a status request, sixel), SOS, PM, APC.
    ("\x1bP1$r0m\x1b\\after", "after"),
    ("\x1bPq#0;2;0;0;0#1!10~\x1b\\", ""),
    ("\x1bXsos\x1b\\\x1b^pm\x1b\\\x1b_apc\x1b\\text", "text"),
    # The C1 forms: CSI, OSC, DCS, ST.
    ("\x9b2J\x9b1;1Htext", "text"),
    ("\x9b31mred\x9b0m", span("ansi-fg-1", "red")),  # a colour is a colour in either form
    ("\x9d0;title\x9cafter", "after"),
    ("\x90q#0~\x9cafter", "after"),
    ("\x9c\x85\x84\x8dtext", "text"),  # a lone ST, NEL, IND, RI
    # Bell, backspace (never erases), other C0 controls, DEL.
    ("abc\x08\x08\x08XYZ\x07", "abcXYZ"),
    ("a\x00b\x0bc\x0cd\x0ee\x0ff\x7fg\x1ah\x18i", "abcdefghi"),
    # Markup around or inside sequences stays text.
    ("\x1b[31m<b>x</b>", span("ansi-fg-1", "&lt;b&gt;x&lt;/b&gt;")),
    ('\x1b[31m"><img src=x onerror=alert(1)>',
     span("ansi-fg-1", "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;")),
    ('\x1b[31;"><script>m', "&gt;&lt;script&gt;m"),  # CSI 31;" cut short by the ">"
    # A lone ESC, and an ESC followed by what cannot continue it, drop only the ESC.
    ("the end\x1b", "the end"),
    ("\x1b", ""),
    ("\x1b\x1b\x1b[32mgreen", span("ansi-fg-2", "green")),
    ("\x1b\x01text", "text"),
    ("\x1bétext", "étext"),
    ("\x1b[31", ""),  # a CSI cut short by the end of the line
    ("\x1b[31\x1b[32mgreen", span("ansi-fg-2", "green")),  # ... or by the next sequence
    ("\x1b[12;é", "é"),  # ... or by text a sequence cannot hold
    ("\x1b[12;\ttext", "\ttext"),
    ("\x1b[", ""),
    ("\x1b]0;title never ended", ""),  # a control string runs to the end of the line...
    ("\x1b]0;title\nnext", "\nnext"),  # ... or to a control character: a line feed
    ("\x1b]0;title\tnext", "\tnext"),
    ("\x1b]8;;http://evil\x1b[31mred", span("ansi-fg-1", "red")),  # ... or an ESC
    # An ESC with one more byte is a whole (unknown) sequence, as a terminal reads it.
    ("\x1bzgarbage", "garbage"),
    ("\x1b !garbage", "arbage"),  # ESC, intermediates " !", final "g"
])
def test_other_escape_sequences_and_control_characters_are_dropped(text, html):
    assert to_html(text) == html
    assert_inert(to_html(text))


@pytest.mark.parametrize(("text", "html"), [
    ("10%\r50%\r100%", "100%"),
    ("[=====>      ] 45%\r[===========>] 100% done", "[===========&gt;] 100% done"),
    ("done\r", "done"),  # nothing drawn after it
    ("done\r\r", "done"),
    ("a\r\rb", "b"),
    ("working\r\x1b[K", "working"),  # only erased: what was drawn stays
    ("\x1b[2K\r10%\r\x1b[2K\r100%", "100%"),
    ("\r", ""),
    ("\x1b[32m10%\r100%\x1b[0m", span("ansi-fg-2", "100%")),  # the style goes on
    ("\x1b[1mbold\r\x1b[31mred", span("ansi-bold ansi-fg-1", "red")),
    ("\x1b[31mred\r\x1b[0mplain", "plain"),
    ("\x1b[31mred\r", span("ansi-fg-1", "red")),  # closed before the carriage return
    ("\x1b[31mred\x1b[0m\r\x1b[0m", span("ansi-fg-1", "red")),
    ("old\x1b]0;title\rnew", "new"),  # a carriage return ends a control string too
    ("<old>\r<new>", "&lt;new&gt;"),
])
def test_a_carriage_return_keeps_what_was_drawn_last(text, html):
    assert to_html(text) == html


FUZZ_ALPHABET = ["\x1b", "\x1b[", "\x1b]", "\x1bP", "\x1b\\", "\x9b", "\x9d", "\x9c", "\x90",
                 "[", "]", ";", ":", "?", "m", "0", "1", "3", "4", "5", "8", "9", "38;5;",
                 "38;2;", "<", ">", "&", '"', "'", "/", "=", "a", "b", "s", "H", "J", "K",
                 " ", "\r", "\n", "\t", "\x07", "\x08", "\x00", "\x7f", "é", "\\", "span",
                 "class", "<span", "</span>"]


def fuzz_corpus(count: int = 2000) -> list[str]:
    """Seeded: random picks from FUZZ_ALPHABET; random bytes read as latin-1 (a decoder that
    never fails); and text between sequences of random parameters and final bytes."""
    rng = random.Random(20240607)
    corpus = []
    for index in range(count):
        if index % 3 == 0:
            corpus.append("".join(rng.choice(FUZZ_ALPHABET) for _ in range(rng.randint(0, 30))))
        elif index % 3 == 1:
            raw = bytes(rng.choice(b"\x1b[];:?m0123456789<>&\"'ab \r\n\t\x07\x9b\x9d\x9c\xe9")
                        for _ in range(rng.randint(0, 60)))
            corpus.append(raw.decode("latin-1"))
        else:
            parts = []
            for _ in range(rng.randint(1, 8)):
                params = ";".join(str(rng.choice([0, 1, 2, 3, 4, 7, 9, 22, 31, 38, 42, 5, 2, 97,
                                                  107, 39, 49, 255, 256, 1000]))
                                  for _ in range(rng.randint(0, 6)))
                final = rng.choice("mmmmmmHJK\x1b<")
                text = "".join(rng.choice("ab <>&\"'\r\x07") for _ in range(rng.randint(0, 5)))
                parts.append(f"\x1b[{params}{final}{text}")
            corpus.append("".join(parts))
    return corpus


def test_whatever_the_bytes_the_only_markup_is_our_own_spans():
    for text in fuzz_corpus():
        html = to_html(text)
        assert isinstance(html, SafeString)
        assert_inert(html)


def test_every_class_a_style_can_have_is_defined_in_the_stylesheet():
    css = APP_CSS.read_text()
    defined = set(re.findall(r"^\s*\.(ansi-[a-z0-9-]+) \{", css, re.M))
    assert {f"ansi-fg-{n}" for n in range(16)} <= defined
    assert {f"ansi-bg-{n}" for n in range(16)} <= defined
    used = set()
    attributes = [0, ansi.BOLD, ansi.DIM, ansi.ITALIC, ansi.UNDERLINE, ansi.INVERSE, ansi.STRIKE]
    for attribute, fg, bg in product(attributes, range(17), range(17)):
        style = attribute | fg << ansi._FG | bg << ansi._BG
        if style:
            used.update(re.findall(r"ansi-[a-z0-9-]+", ansi._open_tag(style)))
    assert used and used <= defined, used - defined


@pytest.mark.parametrize("text, expected", [
    ("plain", "plain"),
    ("\x1b[1;31mError:\x1b[0m <missing>", "Error: <missing>"),
    ("\x1b[2J\x1b[Hcleared", "cleared"),
    ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),
    ("10%\r50%\r100%\r", "100%"),
    ("tab\there", "tab\there"),
])
def test_a_download_has_the_text_without_escapes(text, expected):
    assert to_text(text) == expected
