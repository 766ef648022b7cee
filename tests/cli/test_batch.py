"""`texin batch`, run in process against the emulator: sending, resuming, reporting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from texin_async.testing import Fault, TexinEmulator, serve_in_thread

from ._support import Texin, WriteCsv, flat, people, read_report, sends

FAILING = "0799000001"


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    """An emulator whose gateway fails to deliver to FAILING, for FAILED rows."""
    with serve_in_thread(TexinEmulator(failing_numbers=[FAILING])) as url:
        yield url


# -- sending ---------------------------------------------------------------------------------


def test_batch_sends_and_reports_each_row(
    texin: Texin, texin_emulator: TexinEmulator, texin_api_key: str, write_csv: WriteCsv
) -> None:
    """A batch sends every row once and reports one row per input row, in input order."""
    report = write_csv([], name="out.csv")
    run = texin("batch", str(write_csv(people(12))), "--text", "Hello", "--report", str(report))
    assert run.code == 0, run.err
    processed = texin_emulator.processed(texin_api_key)
    assert len(processed) == 12
    assert max(processed.values()) == 1
    rows = read_report(report)
    assert [row["row"] for row in rows] == [str(n) for n in range(1, 13)]
    assert [row["name"] for row in rows] == [f"Name{i}" for i in range(12)]
    assert {row["status"] for row in rows} == {"sent"}
    assert all(row["message_id"] in texin_emulator.messages for row in rows)


def test_batch_invalid_rows_exit_6(texin: Texin, write_csv: WriteCsv, tmp_path: Path) -> None:
    """Rows with bad numbers are reported invalid, the rest sent, and the exit code is 6."""
    source = write_csv([*people(3), ("0800 123", "Bad")])
    report = tmp_path / "out.csv"
    run = texin("batch", str(source), "--text", "Hi", "--report", str(report))
    assert run.code == 6
    assert [row["status"] for row in read_report(report)] == ["sent", "sent", "sent", "invalid"]


def test_batch_template_personalises(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """--template fills each row's columns into its own message."""
    run = texin("batch", str(write_csv(people(3))), "--template", "Hi {name}!")
    assert run.code == 0
    texts = sorted(message.text for message in texin_emulator.messages.values())
    assert texts == ["Hi Name0!", "Hi Name1!", "Hi Name2!"]


def test_batch_json(texin: Texin, write_csv: WriteCsv) -> None:
    """--json prints the batch report as one JSON document, cost as a decimal string."""
    report = texin("batch", str(write_csv(people(5))), "--text", "Hi", "--json").json()
    assert report["sent"] == 5
    assert report["requests"] == 1
    assert report["cost"] == "1.50"


def test_batch_report_shows_cost_in_kes(texin: Texin, write_csv: WriteCsv) -> None:
    """The report table shows the cost as KES with two decimals."""
    run = texin("batch", str(write_csv(people(5))), "--text", "Hi")
    assert "KES 1.50" in run.out


def test_batch_resume_sends_nothing_new(
    texin: Texin,
    texin_emulator: TexinEmulator,
    texin_api_key: str,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    """Re-running with the same journal reports every row from it and sends nothing."""
    journal, report = tmp_path / "journal.sqlite", tmp_path / "out.csv"
    args = ("batch", str(write_csv(people(8))), "--text", "Hi", "--journal", str(journal))
    assert texin(*args).code == 0
    before = texin_emulator.processed(texin_api_key)
    again = texin(*args, "--report", str(report), "--json")
    assert again.code == 0
    assert texin_emulator.processed(texin_api_key) == before
    assert again.json()["resumed"] == 8
    assert [row["status"] for row in read_report(report)] == ["sent"] * 8


def test_batch_resume_announces_only_what_is_left(
    texin: Texin, write_csv: WriteCsv, tmp_path: Path
) -> None:
    """A resumed run counts the rows the journal finished out of its request estimate."""
    journal = tmp_path / "journal.sqlite"
    args = ("batch", str(write_csv(people(3))), "--template", "Hi {name}")
    assert texin(*args, "--journal", str(journal)).code == 0
    line = flat(texin(*args, "--journal", str(journal)).err)
    assert "3 done before, in the journal" in line
    assert "sending 0 in up to 0 requests" in line


def test_batch_bad_key_sends_nothing(
    texin: Texin,
    texin_emulator: TexinEmulator,
    write_csv: WriteCsv,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refused key stops the batch at its first request, before any row is sent."""
    monkeypatch.setenv("TEXIN_API_KEY", "not-an-account")
    run = texin("batch", str(write_csv(people(3))), "--text", "Hi")
    assert run.code == 1
    assert "401" in run.error()
    assert sends(texin_emulator) == 0


def test_batch_report_never_overwrites_the_input(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """--report naming the input file is refused before anything is sent."""
    source = write_csv(people(2))
    run = texin("batch", str(source), "--text", "Hi", "--report", str(source))
    assert run.code == 2
    assert "is the input file" in run.error()
    assert texin_emulator.requests() == {}
    assert source.read_text().startswith("phone,name")


def test_one_row_is_announced_in_the_singular(texin: Texin, write_csv: WriteCsv) -> None:
    """One row is "1 row" in "1 request", never "1 rows" or "1 requests"."""
    run = texin("batch", str(write_csv(people(1))), "--text", "Hi")
    assert run.code == 0
    said = flat(run.err + run.out)
    assert "1 row;" in said
    assert "up to 1 request," in said
    assert "1 rows" not in said
    assert "1 requests" not in said


# -- bad input: one line, exit 2, nothing sent -----------------------------------------------


@pytest.mark.parametrize(
    ("content", "options", "expected"),
    [
        (b"number,name\n0712345678,A\n", ("--text", "Hi"), "no column 'phone'"),
        (b"phone,name\n0712345678,Jos\xe9\n", ("--text", "Hi"), "not UTF-8"),
        (b"", ("--text", "Hi"), "is empty"),
        (b"phone,name\n", ("--text", "Hi"), "no rows"),
        (b"phone,name\n0712345678,A\n", ("--template", "Hi {nme}"), "'nme'"),
        (b"phone,name\n0712345678,A\n", ("--template", "Hi {name"), "bad --template"),
        (b"phone,name\n0712345678,A\n", (), "give one of --text TEXT or --template"),
        (b"phone,name\n0712345678,A\n", ("--text", "Hi", "--template", "Hi"), "not both"),
    ],
    ids=[
        "missing-column",
        "latin-1",
        "empty",
        "header-only",
        "template-column",
        "braces",
        "no-text",
        "both",
    ],
)
def test_batch_bad_input_sends_nothing(
    texin: Texin,
    texin_emulator: TexinEmulator,
    tmp_path: Path,
    content: bytes,
    options: tuple[str, ...],
    expected: str,
) -> None:
    """A bad CSV or template is one clear line, exit 2, and no request at all."""
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    run = texin("batch", str(source), *options)
    assert run.code == 2
    assert expected in run.error()
    assert texin_emulator.requests() == {}


def test_neither_text_nor_template_does_not_say_not_both(texin: Texin, write_csv: WriteCsv) -> None:
    """Giving no message at all is not answered with "not both"."""
    assert "not both" not in texin("batch", str(write_csv(people(1)))).error()


def test_semicolon_file_suggests_the_delimiter(texin: Texin, write_csv: WriteCsv) -> None:
    """A ';'-separated file without --delimiter gets the option to pass, ready to copy."""
    source = write_csv([("0712345678", "A")], header="phone;name")
    source.write_text("phone;name\n0712345678;A\n", encoding="utf-8")
    line = texin("batch", str(source), "--text", "Hi").error()
    assert "looks like a ';'-separated file: pass --delimiter ';'" in line


def test_tab_delimiter_by_name(texin: Texin, texin_emulator: TexinEmulator, tmp_path: Path) -> None:
    """A tab-separated file is read with --delimiter tab."""
    source = tmp_path / "in.tsv"
    source.write_text("phone\tname\n0712345678\tA\n", encoding="utf-8")
    assert texin("batch", str(source), "--text", "Hi", "--delimiter", "tab").code == 0
    assert sends(texin_emulator) == 1


# -- the journal is checked with the other inputs --------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [("missing/j.sqlite", "does not exist"), (".", "is a folder"), ("in.csv", "journal")],
    ids=["no-folder", "a-folder", "not-a-journal"],
)
def test_unusable_journal_is_refused_before_any_request(
    texin: Texin,
    texin_emulator: TexinEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
    where: str,
    expected: str,
) -> None:
    """A journal path no journal can be at, or a file that is not one: one line, exit 2."""
    source = write_csv(people(2))
    run = texin("batch", str(source), "--text", "Hi", "--journal", str(tmp_path / where))
    assert run.code == 2
    assert expected in run.error()
    assert texin_emulator.requests() == {}


def test_journal_mismatch_counts_rows_from_1(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    """A changed first row is "row 1", as the report counts, never "item 0"; nothing sent."""
    journal = tmp_path / "j.sqlite"
    assert (
        texin("batch", str(write_csv(people(3))), "--text", "Hi", "--journal", str(journal)).code
        == 0
    )
    sent = sends(texin_emulator)
    changed = write_csv([("0700000009", "Changed"), *people(2, start=1)])
    line = texin("batch", str(changed), "--text", "Hi", "--journal", str(journal)).error()
    assert "row 1 " in line
    assert "item 0" not in line
    assert sends(texin_emulator) == sent


# -- blank template fields -------------------------------------------------------------------


def test_blank_template_field_is_refused(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """A row whose {name} is blank is refused, naming its row and what it would say."""
    source = write_csv([*people(2), ("0700000009", " "), ("0700000010", "")])
    run = texin("batch", str(source), "--template", "Hi {name}")
    assert run.code == 2
    line = run.error()
    assert "2 rows" in line
    assert "rows 3 and 4" in line
    assert "would read 'Hi '" in line
    assert "--allow-empty-fields" in line
    assert sends(texin_emulator) == 0


def test_allow_empty_fields_sends_them(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """--allow-empty-fields sends a row whose template field is blank."""
    source = write_csv([*people(1), ("0700000009", "")])
    run = texin("batch", str(source), "--template", "Hi {name}", "--allow-empty-fields")
    assert run.code == 0
    assert sorted(m.text for m in texin_emulator.messages.values()) == ["Hi ", "Hi Name0"]


def test_dry_run_refuses_blank_fields_too(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """A dry run reports blank fields and exits 2, as the real run would; nothing sent."""
    source = write_csv([*people(1), ("0700000009", "")])
    run = texin("batch", str(source), "--template", "Hi {name}", "--dry-run")
    assert run.code == 2
    assert "Blank fields: 1 row (row 2)" in flat(run.out)
    assert sends(texin_emulator) == 0


# -- hints suggest only what can succeed -----------------------------------------------------


def test_invalid_rows_never_suggest_retry_failed(
    texin: Texin, write_csv: WriteCsv, tmp_path: Path
) -> None:
    """Rows refused as invalid (locally or by the API) are not retried: no --retry-failed."""
    source = write_csv([*people(3), ("0800 123", "Bad"), ("0110000000", "Refused")])
    run = texin("batch", str(source), "--text", "Hi", "--journal", str(tmp_path / "j.sqlite"))
    assert run.code == 6
    out = flat(run.out)
    assert "2 rows had no valid number" in out
    assert "--retry-failed" not in out


def test_failed_rows_with_a_journal_suggest_retry_failed(
    texin: Texin,
    write_csv: WriteCsv,
    tmp_path: Path,
    gateway_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows the gateway failed on, with a journal, suggest --retry-failed."""
    monkeypatch.setenv("TEXIN_BASE_URL", gateway_url)
    source = write_csv([*people(2), (FAILING, "Fails")])
    run = texin("batch", str(source), "--text", "Hi", "--journal", str(tmp_path / "j.sqlite"))
    assert run.code == 6
    assert "1 row failed and was not sent" in flat(run.out)
    assert "--retry-failed" in run.out


def test_failed_rows_without_a_journal_do_not_suggest_retry_failed(
    texin: Texin, write_csv: WriteCsv, gateway_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a journal --retry-failed cannot work, so it is not suggested."""
    monkeypatch.setenv("TEXIN_BASE_URL", gateway_url)
    run = texin("batch", str(write_csv([*people(2), (FAILING, "Fails")])), "--text", "Hi")
    assert run.code == 6
    assert "--retry-failed" not in run.out


def test_unknown_rows_hint_at_the_dashboard_and_resend_unknown(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    """Unknown rows: may have gone out, check the dashboard, --resend-unknown may duplicate."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_bulk_sms")
    source = write_csv(people(3))
    run = texin("batch", str(source), "--text", "Hi", "--journal", str(tmp_path / "j.sqlite"))
    assert run.code == 6
    out = flat(run.out)
    assert "3 rows may have been sent" in out
    assert "dashboard" in out
    assert "--resend-unknown sends them again (they may arrive twice)" in out
    assert "texin status" not in out
