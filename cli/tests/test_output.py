"""What the CLI draws on a terminal (a spinner while queued, a progress bar while uploading,
colours) and what it leaves out when its output goes to a file or a pipe, or NO_COLOR is set."""

from __future__ import annotations

import io

import pytest

from cli import output

CLEAR = "\r\x1b[2K"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_spinner_turns_on_a_terminal_and_clears_its_line():
    terminal = Terminal()
    spinner = output.Spinner(terminal)
    for _ in range(3):
        spinner.tick("#4 queued…")
    spinner.clear()
    frames = terminal.getvalue().split(CLEAR)
    assert frames == ["", "⠋ #4 queued…", "⠙ #4 queued…", "⠹ #4 queued…", ""]
    spinner.clear()  # nothing shown: nothing to clear
    assert terminal.getvalue().count(CLEAR) == 4


def test_the_spinner_and_the_bar_draw_nothing_into_a_pipe():
    pipe = io.StringIO()
    spinner, bar = output.Spinner(pipe), output.Progress(1000, "Uploading", pipe)
    spinner.tick("#4 queued…")
    bar.advance(1000)
    spinner.clear()
    bar.finish()
    assert pipe.getvalue() == ""


def test_the_upload_bar_fills_up_and_goes(monkeypatch):
    clock = iter(range(10, 100))
    monkeypatch.setattr(output.time, "monotonic", lambda: float(next(clock)))
    terminal = Terminal()
    bar = output.Progress(3 * 1024 * 1024, "Uploading", terminal)
    bar.advance(1024 * 1024)
    bar.advance(2 * 1024 * 1024)
    bar.finish()
    drawn = [frame for frame in terminal.getvalue().split(CLEAR) if frame]
    assert drawn == [
        f"Uploading {'█' * 10}{'░' * 20} 1.0 MB / 3.0 MB",
        f"Uploading {'█' * 30} 3.0 MB / 3.0 MB",
    ]
    assert terminal.getvalue().endswith(CLEAR)  # the line is left clean for what follows


def test_the_bar_redraws_at_most_ten_times_a_second_but_always_at_the_end(monkeypatch):
    monkeypatch.setattr(output.time, "monotonic", lambda: 50.0)  # time stands still
    terminal = Terminal()
    bar = output.Progress(100, "Uploading", terminal)
    for _ in range(100):
        bar.advance(1)
    drawn = [frame for frame in terminal.getvalue().split(CLEAR) if frame]
    assert len(drawn) == 2 and drawn[-1].endswith("100 B / 100 B")


@pytest.mark.parametrize(("environment", "coloured"),
                         [({}, True), ({"NO_COLOR": "1"}, False), ({"TERM": "dumb"}, False)])
def test_colours_on_a_terminal_unless_told_not_to(monkeypatch, environment, coloured):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    painted = output.status_text("failed", Terminal())
    assert painted == ("\x1b[31mfailed\x1b[0m" if coloured else "failed")
    assert output.status_text("failed", io.StringIO()) == "failed"


def test_sizes_read_as_people_write_them():
    assert [output.human_size(n) for n in (0, 1023, 1024, 1536 * 1024, 5 * 1024**3)] == \
        ["0 B", "1023 B", "1.0 kB", "1.5 MB", "5.0 GB"]
