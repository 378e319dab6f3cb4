import io
import logging
import sys

from scrapy.settings import Settings

from crawlers.console import HeldStderr, error_line, tell


def test_held_output_is_written_on_release_and_passes_through_after(monkeypatch):
    real = io.StringIO()
    monkeypatch.setattr(sys, "stderr", real)
    held = HeldStderr(real).start()
    assert sys.stderr is held
    print("banner", file=sys.stderr)
    assert real.getvalue() == ""
    held.release()
    assert sys.stderr is real
    assert real.getvalue() == "banner\n"
    held.write("later\n")  # a log handler bound to it keeps writing
    assert real.getvalue() == "banner\nlater\n"


def test_dropped_output_is_gone_and_the_error_line_is_alone(monkeypatch):
    real = io.StringIO()
    monkeypatch.setattr(sys, "stderr", real)
    held = HeldStderr(real).start()
    print("Scrapy 2.19 started\nOverridden settings: ...", file=sys.stderr)
    held.drop()
    error_line("proxy list x.txt line 3: not a proxy")
    assert real.getvalue() == "error: proxy list x.txt line 3: not a proxy\n"
    held.release()  # at exit: nothing held any more
    assert real.getvalue() == "error: proxy list x.txt line 3: not a proxy\n"


def test_an_error_before_logging_starts_is_appended_to_the_log_file(tmp_path, capsys):
    log = tmp_path / "job.log"
    log.write_text("earlier\n")
    error_line("phase must be 1, 2 or 3, got '9'", str(log))
    assert capsys.readouterr().err == "error: phase must be 1, 2 or 3, got '9'\n"
    lines = log.read_text().splitlines()
    assert lines[0] == "earlier"
    assert lines[1].endswith(" [crawlers] ERROR: phase must be 1, 2 or 3, got '9'")


def test_a_report_is_logged_as_well_when_the_log_is_a_file(capsys, caplog):
    caplog.set_level(logging.INFO, logger="crawlers")
    tell("capacity: 12 origins/hour", Settings({"LOG_FILE": "job.log"}))
    assert capsys.readouterr().out == "capacity: 12 origins/hour\n"
    assert [r.getMessage() for r in caplog.records] == ["capacity: 12 origins/hour"]
    caplog.clear()
    tell("capacity: 12 origins/hour", Settings())
    assert capsys.readouterr().out == "capacity: 12 origins/hour\n"
    assert caplog.records == []  # on a terminal the log is stderr: printed once is enough
