"""Progress bars: rate and ETA on a terminal, silence in pipes and CI."""

import io

from thinkdraw.progress import Progress, interactive


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_shows_count_rate_and_eta():
    out = TTY()
    bar = Progress("eval think", stream=out, enabled=True, min_interval=0.0)
    bar(0, 4)
    bar._first = (bar._first[0] - 2.0, 0)  # as if the first call was 2 s ago
    bar(1, 4)
    text = out.getvalue()
    assert "eval think [" in text and "1/4" in text and "25%" in text and "/s" in text and "ETA 0:06" in text
    bar(4, 4)
    assert out.getvalue().endswith("\n") and "4/4" in out.getvalue()


def test_quiet_in_pipes_and_ci(monkeypatch):
    pipe = io.StringIO()
    Progress("x", stream=pipe)(1, 2)
    assert pipe.getvalue() == ""
    monkeypatch.setenv("CI", "true")
    assert not interactive(TTY())
    monkeypatch.delenv("CI")
    assert interactive(TTY())


def test_training_log_drives_the_bar(tmp_path, monkeypatch):
    from thinkdraw.train.common import RunLog

    seen = []
    log = RunLog(tmp_path, {"train": {"steps": 10}}, resume=False)
    monkeypatch.setattr(log, "progress", lambda d, t: seen.append((d, t)))
    log.add(step=5, loss=1.0)
    assert seen == [(5, 10)]
