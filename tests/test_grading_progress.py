"""Class grading's progress display (``python -m coursekit grade``):
learners done of total, failures so far, elapsed and estimated time left,
then a summary table. The grading itself is tested in
test_parallel_grading.py; here the display, with a clock the test sets."""

from coursekit.grade import Progress, summary_table


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_one_line_per_learner_with_what_is_left():
    lines, clock = [], Clock()
    p = Progress(4, log=lines.append, clock=clock)
    clock.now += 10
    p.update("ada", True, 4.2)
    clock.now += 10
    p.update("bob", False, 0.0, ": see grading_logs/ch01/bob.log")
    assert lines[0] == ("[1/4] graded ada (4.2 s); 0 failed so far; 0:10 "
                        "elapsed, about 0:30 left")
    assert lines[1].startswith("[2/4] FAILED bob (0.0 s): see grading_logs")
    assert "1 failed so far; 0:20 elapsed, about 0:20 left" in lines[1]
    assert p.failed == ["bob"]


def test_quiet_prints_nothing_and_a_bar_writes_to_stderr(capsys):
    lines = []
    p = Progress(2, log=lines.append, quiet=True, clock=Clock())
    p.update("ada", True, 1.0)
    assert lines == [] and p.done == 1
    p = Progress(2, log=lines.append, bar=True, clock=Clock())
    p.update("ada", True, 1.0)
    p.update("bob", False, 2.0, ": see the log")
    p.close()
    err = capsys.readouterr().err
    assert lines == []  # the bar, not lines
    assert "2/2" in err and "FAILED bob: see the log" in err


def test_the_summary_table():
    summary = {"learners": 3, "workers": 2, "wall_s": 3725.0,
               "failed": ["bob"], "per_hour": 2.9,
               "seconds": {"ada": 4.0, "bob": 0.0, "cy": 9.5}}
    table = summary_table(summary, "ch01_perceptrons")
    text = "\n".join(table)
    assert table[0].split() == ["chapter", "ch01_perceptrons"]
    assert "graded         2" in text
    assert "failed         1 (bob; see grading_logs/ch01_perceptrons/)" \
        in text
    assert "1:02:05 (3725.0 s)" in text and "learners/hour  3" in text
    assert "median 4.0 s; slowest cy 9.5 s, ada 4.0 s, bob 0.0 s" in text
