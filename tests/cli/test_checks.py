"""What `texin batch` checks before its first send, and what a dry run tells of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from texin_async._cli import _batch, _preflight
from texin_async._cli._csv import CsvSource
from texin_async._cli._preflight import Plan, Rules
from texin_async.testing import Account, TexinEmulator

from ._support import Texin, WriteCsv, flat, people, requests_to, sends

# -- a dry run checks what a real run would ---------------------------------------------------


def test_dry_run_reads_the_balance_once_and_sends_nothing(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """A dry run makes one get_balance request, no send, and says the balance is enough."""
    run = texin("batch", str(write_csv(people(4))), "--template", "Hi {name}", "--dry-run")
    assert run.code == 0
    assert requests_to(texin_emulator, "get_balance") == 1
    assert sends(texin_emulator) == 0
    assert "Balance: 10000 credits; this run needs 4 units (KES 1.20): enough." in flat(run.out)


def test_dry_run_checks_the_key(
    texin: Texin,
    texin_emulator: TexinEmulator,
    write_csv: WriteCsv,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dry run with a key the API refuses exits 1, as the real run would."""
    monkeypatch.setenv("TEXIN_API_KEY", "not-an-account")
    run = texin("batch", str(write_csv(people(2))), "--text", "Hi", "--dry-run")
    assert run.code == 1
    assert "401" in run.error()
    assert sends(texin_emulator) == 0


@pytest.fixture
def poor(texin: Texin, texin_emulator: TexinEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Use an account with 2 credits."""
    texin_emulator.add_account(Account(api_key="poor-key", balance=2))
    monkeypatch.setenv("TEXIN_API_KEY", "poor-key")
    return "poor-key"


def test_dry_run_says_the_balance_is_short(poor: str, texin: Texin, write_csv: WriteCsv) -> None:
    """A dry run compares the units with the balance and exits 1 when it falls short."""
    run = texin("batch", str(write_csv(people(5))), "--text", "Hi", "--dry-run")
    assert run.code == 1
    assert "NOT enough" in run.out
    assert "needs 5 SMS units (KES 1.50) but the balance is 2 credits" in run.error()


def test_short_balance_sends_nothing(
    poor: str, texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """A real run refuses a batch the balance cannot cover, before its first send."""
    run = texin("batch", str(write_csv(people(5))), "--text", "Hi")
    assert run.code == 1
    assert sends(texin_emulator) == 0


def test_dry_run_lists_invalid_rows(texin: Texin, write_csv: WriteCsv) -> None:
    """A dry run names the rows whose numbers are not valid."""
    source = write_csv([("0712", "A"), *people(1), ("12345", "B"), *people(1, start=1)])
    run = texin("batch", str(source), "--text", "Hi", "--dry-run")
    assert run.code == 6
    assert "Invalid: 2 rows (rows 1 and 3) without a valid mobile number" in flat(run.out)


def test_dry_run_lists_repeated_numbers(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """A dry run names a repeated number, its rows and how often it would be sent; exit 2."""
    source = write_csv([*people(1), *[("0712345678", "Same")] * 5, ("+254712345678", "Same")])
    run = texin("batch", str(source), "--text", "Hi", "--dry-run")
    assert run.code == 2
    out = flat(run.out)
    assert "254712345678 appears 6 times (rows 2, 3, 4, 5, 6 and 1 more)" in out
    assert "so it would be sent 6 times" in out
    assert sends(texin_emulator) == 0


def test_dry_run_json_tells_the_check(texin: Texin, write_csv: WriteCsv) -> None:
    """`--dry-run --json` adds what the check found: invalid rows, repeats, the balance."""
    source = write_csv([("0712", "A"), *[("0712345678", "Same")] * 2])
    check = texin("batch", str(source), "--text", "Hi", "--dry-run", "--json").json()["check"]
    assert check["invalid"] == {"count": 1, "rows": [1]}
    assert check["repeats"]["first"] == [{"number": "254712345678", "times": 2, "rows": [2, 3]}]
    assert check["balance"] == "10000"
    assert check["balance_enough"] is True


def test_repeated_numbers_are_refused(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """A real run refuses repeats before sending: one line naming the number and its rows."""
    source = write_csv([*people(3), ("0710000001", "Again")])
    run = texin("batch", str(source), "--text", "Hi")
    assert run.code == 2
    line = run.error()
    assert "254710000001 appears 2 times (rows 2 and 4)" in line
    assert "--allow-repeats" in line
    assert sends(texin_emulator) == 0


def test_allow_repeats_sends_each(
    texin: Texin, texin_emulator: TexinEmulator, texin_api_key: str, write_csv: WriteCsv
) -> None:
    """--allow-repeats sends a repeated number once per row."""
    source = write_csv([*people(2), ("0710000001", "Again")])
    assert texin("batch", str(source), "--text", "Hi", "--allow-repeats").code == 0
    assert texin_emulator.processed(texin_api_key)["254710000001"] == 2


# -- a broken CSV is found before the first send ---------------------------------------------


def test_unbalanced_quote_is_refused(
    texin: Texin, texin_emulator: TexinEmulator, tmp_path: Path
) -> None:
    """An open quote that swallows the rows after it is refused with its line; nothing sent."""
    source = tmp_path / "in.csv"
    source.write_text('phone,name\n0710000000,"Ann\n0710000001,Bob\n0710000002,Cy\n')
    run = texin("batch", str(source), "--template", "Hi {name}")
    assert run.code == 2
    line = run.error()
    assert "line 2 (row 1)" in line
    assert "line break" in line
    assert "--allow-multiline" in line
    assert sends(texin_emulator) == 0


def test_field_longer_than_a_message_is_refused(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """A field over 1,600 characters is refused, naming the limit; nothing sent."""
    source = write_csv([*people(2), ("0710000009", "x" * 1601)])
    run = texin("batch", str(source), "--text", "Hi")
    assert run.code == 2
    assert "line 4 (row 3): column 'name' holds 1,601 characters" in run.error()
    assert "1,600" in run.error()
    assert sends(texin_emulator) == 0


def test_allow_multiline_sends_quoted_line_breaks(
    texin: Texin, texin_emulator: TexinEmulator, tmp_path: Path
) -> None:
    """--allow-multiline sends a quoted field's line break as part of the message."""
    source = tmp_path / "in.csv"
    source.write_text('phone,name\n0710000000,"Ann\nand Bo"\n', encoding="utf-8")
    run = texin("batch", str(source), "--template", "Hi {name}", "--allow-multiline")
    assert run.code == 0
    assert [m.text for m in texin_emulator.messages.values()] == ["Hi Ann\nand Bo"]


def test_field_over_the_csv_limit_mid_file_sends_nothing(
    texin: Texin, texin_emulator: TexinEmulator, write_csv: WriteCsv
) -> None:
    """A row the csv module cannot read, after 1,100 good ones: exit 2 and nothing sent."""
    source = write_csv([*people(1100), ("0710000009", "y" * 140_000), *people(5, start=2000)])
    run = texin("batch", str(source), "--text", "Hi")
    assert run.code == 2
    assert "line 1102" in run.error()
    assert sends(texin_emulator) == 0


def test_read_error_after_sending_began_exits_6(
    texin: Texin,
    texin_emulator: TexinEmulator,
    write_csv: WriteCsv,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row that cannot be read once rows were sent exits 6 and says how many were sent."""
    source = write_csv(people(1100))
    checked = _preflight.preflight

    async def check_then_break(csv_source: CsvSource, rules: Rules) -> Plan:
        plan = await checked(csv_source, rules)
        with source.open("a", encoding="utf-8") as handle:  # the file changes after the check
            handle.write("0710000009," + "z" * 140_000 + "\n")
        return plan

    monkeypatch.setattr(_batch, "preflight", check_then_break)
    run = texin("batch", str(source), "--text", "Hi")
    assert run.code == 6
    line = run.err.strip().splitlines()[-1]
    assert line.startswith("texin: error: the batch stopped after sending began (200 sent,")
    assert "line 1102" in line
    assert sends(texin_emulator) == 2
