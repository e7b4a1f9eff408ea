"""The batch's progress line: done/total, the hand-ins being graded now, elapsed time and an estimate."""

from __future__ import annotations

import io

from rich.console import Console

from grader.commands.progress import BatchProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_status_names_the_running_hand_ins_and_estimates_the_rest() -> None:
    clock = Clock()
    with BatchProgress(None, "grading sheet02", total=4, clock=clock) as progress:
        assert progress.status() == "0/4 graded · 0:00 elapsed · estimating the time left"
        progress.started("Berg_2302001_Demir_2302002.zip")
        progress.started("Kovač_2302003_Janssen_2302004.zip")
        clock.now += 30
        assert progress.status().endswith("now: Berg_2302001_Demir_2302002.zip, Kovač_2302003_Janssen_2302004.zip")
        progress.finished("Berg_2302001_Demir_2302002.zip", failed=True)
        # 30 s for one hand-in, three to go: about 90 s
        assert progress.seconds_left() == 90
        assert progress.status() == ("1/4 graded · 1 failed · 0:30 elapsed · about 1:30 left · "
                                     "now: Kovač_2302003_Janssen_2302004.zip")
        clock.now += 30
        progress.finished("Kovač_2302003_Janssen_2302004.zip", failed=False)
        assert progress.seconds_left() == 60  # two done in 60 s, two to go
        clock.now += 3600
        progress.finished("a.zip", failed=False)
        progress.finished("b.zip", failed=False)
        assert progress.status() == "4/4 graded · 1 failed · 1:01:00 elapsed"


def test_in_a_log_each_finished_hand_in_is_one_line() -> None:
    clock, out = Clock(), io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    with BatchProgress(console, "grading sheet02", total=2, clock=clock) as progress:
        progress.started("one.zip")
        progress.started("two.zip")
        clock.now += 4
        progress.finished("one.zip", failed=False)
    assert out.getvalue().splitlines() == [
        "grading sheet02: one.zip done; 1/2 graded · 0:04 elapsed · about 0:04 left · now: two.zip"]


def test_on_a_terminal_the_live_line_shows_the_same_status() -> None:
    clock, out = Clock(), io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, color_system=None)
    with BatchProgress(console, "grading sheet02", total=2, clock=clock) as progress:
        progress.started("one.zip")
        clock.now += 5
        progress.finished("one.zip", failed=False)
        progress.started("two.zip")
    assert "1/2 graded · 0:05 elapsed · about 0:05 left · now: two.zip" in out.getvalue()
