"""The command line an operator meets first: help on every command and option, and the first steps
(create a client, attach a gateway account, import catalogues) with clear output, checked through
the API afterwards."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.__main__ import main
from app.cli_ops import progress_bar
from tests.factories import DEPARTMENT, PROVINCE, ensure_agencies

BASE = "http://paybridge.test"


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PAYBRIDGE_DATABASE_URL", db_url)
    monkeypatch.setenv("PAYBRIDGE_PUBLIC_BASE_URL", BASE)
    monkeypatch.setenv("PAYBRIDGE_SANDBOX", "true")
    monkeypatch.setenv("PAYBRIDGE_LOG_LEVEL", "WARNING")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``paybridge ARGV`` in-process (its own event loop, in a thread) → (exit code, out, err)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class _Parsed(Exception):
    pass


def _parser(monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    def capture(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        raise _Parsed(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(_Parsed) as parsed:
        main([])
    parser: argparse.ArgumentParser = parsed.value.args[0]
    return parser


def test_every_command_and_option_has_help(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = _parser(monkeypatch)
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    expected = {"migrate", "serve", "worker", "seed-demo", "rotate-secrets"}
    expected |= {"create-client", "add-gateway-account", "import-catalogue"}
    assert expected <= set(commands.choices)
    undocumented = []
    for name, sub in commands.choices.items():
        if not helps.get(name):
            undocumented.append(name)
        for action in sub._actions:
            if not isinstance(action, argparse._HelpAction) and not action.help:
                undocumented.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert undocumented == []


def test_help_runs_as_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["add-gateway-account", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: paybridge add-gateway-account")
    assert "--credential NAME=VALUE" in out and "repeat for each the gateway needs" in out


async def test_create_client_prints_a_key_that_works(
    cli_env: None,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    await ensure_agencies(client, admin_headers)
    code, out, _ = await _cli(
        capsys,
        "create-client",
        "--name",
        "Cổng DVC tỉnh Thử",
        "--agency",
        PROVINCE,
        "--webhook-url",
        "https://motcua.example.vn/hook",
    )
    assert code == 0, out
    assert re.match(r"created client cli_\w+ \(Cổng DVC tỉnh Thử\)\n", out)
    assert f"agencies:       {PROVINCE}" in out
    key = re.search(r"API key:\s+(pbk_\S+)", out)
    assert key and re.search(r"webhook secret: whsec_\S+", out)
    agencies = await client.get("/v1/agencies", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert agencies.status_code == 200
    assert {a["code"] for a in agencies.json()["data"]} == {PROVINCE, DEPARTMENT}


async def test_create_client_refusal_names_the_field(
    cli_env: None,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    await ensure_agencies(client, admin_headers)
    code, out, err = await _cli(capsys, "create-client", "--name", "X", "--agency", "999.99.99.Z99")
    assert code == 1 and out == ""
    assert err.startswith("paybridge: create-client refused: ")
    assert "999.99.99.Z99" in err


async def test_add_gateway_account_attaches_it_to_the_agency(
    cli_env: None,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    await ensure_agencies(client, admin_headers)
    code, out, _ = await _cli(capsys, "add-gateway-account", "--agency", DEPARTMENT, "--provider", "sandbox")
    assert code == 0, out
    added = re.match(rf"added sandbox account (pa_\w+) for agency {re.escape(DEPARTMENT)}\n", out)
    assert added
    listed = await client.get(
        "/admin/v1/provider-accounts", params={"agency_code": DEPARTMENT}, headers=admin_headers
    )
    [account] = listed.json()["data"]
    assert account["id"] == added.group(1)
    assert f"callback URL (register it at the gateway): {account['callback_url']}" in out
    assert account["callback_url"].startswith(BASE + "/v1/callbacks/sandbox/")

    code, out, err = await _cli(
        capsys, "add-gateway-account", "--agency", DEPARTMENT, "--provider", "vnpay", "--credential", "oops"
    )
    assert code == 1 and "--credential takes NAME=VALUE, got 'oops'" in err


async def test_import_catalogue_files_then_again(
    cli_env: None,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    agencies = tmp_path / "agencies.csv"
    agencies.write_text(
        "code,name,level,parent_code\n"
        "000.00.00.H99,UBND tỉnh Mẫu,province,\n"
        "000.00.31.H99,Sở Tư pháp tỉnh Mẫu,department,000.00.00.H99\n",
        encoding="utf-8",
    )
    revenue = tmp_path / "revenue.json"
    revenue.write_text(
        '[{"code": "9901", "group_code": "2750", "name": "Lệ phí thử", "kind": "le_phi",'
        ' "valid_from": "2020-01-01"}]',
        encoding="utf-8",
    )
    banks = tmp_path / "banks.csv"
    banks.write_text(
        "bin,sbv_code,short_name,name\n970499,999,Ngân hàng Thử,Ngân hàng TMCP Thử\n", encoding="utf-8"
    )

    code, out, err = await _cli(capsys, "import-catalogue", "agencies", str(agencies))
    assert (code, out) == (
        0,
        "imported 2 agencies row(s) from agencies.csv: 2 created, 0 updated, 0 already present\n",
    )
    # Progress on stderr: not a terminal here, so a line per quarter, ending at 100%.
    assert err.splitlines()[-1] == "agencies: 100% (2/2)" and "agencies: 0% (0/2)" in err
    code, out, _ = await _cli(capsys, "import-catalogue", "revenue-types", str(revenue))
    assert code == 0 and "from revenue.json: 1 created" in out
    code, out, _ = await _cli(capsys, "import-catalogue", "banks", str(banks))
    assert code == 0 and "from banks.csv: 1 created" in out
    code, out, _ = await _cli(capsys, "import-catalogue", "banks", str(banks))
    assert out.endswith("0 created, 0 updated, 1 already present\n")

    listed = await client.get("/admin/v1/agencies", params={"under": "000.00.00.H99"}, headers=admin_headers)
    assert [a["code"] for a in listed.json()["data"]] == ["000.00.00.H99", "000.00.31.H99"]
    key = (
        await client.post(
            "/admin/v1/clients", json={"name": "t", "agency_codes": ["000.00.00.H99"]}, headers=admin_headers
        )
    ).json()["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/v1/revenue-types/9901", headers=auth)).json()["name"] == "Lệ phí thử"
    bank_bins = {b["bin"] for b in (await client.get("/v1/banks?limit=500", headers=auth)).json()["data"]}
    assert "970499" in bank_bins


async def test_import_catalogue_rejects_a_bad_file_whole(
    cli_env: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "banks.csv"
    bad.write_text(
        "bin,sbv_code,short_name,name\n970498,998,Tốt,Ngân hàng Tốt\n97X,,Xấu,Ngân hàng Xấu\n",
        encoding="utf-8",
    )
    code, out, err = await _cli(capsys, "import-catalogue", "banks", str(bad))
    assert code == 1 and out == ""
    assert "refused: Import rejected: 1 bad row(s) (lines 3); nothing was imported." in err
    assert "  line 3: bin: must be 6 digits" in err and "  line 3: sbv_code: must not be empty" in err
    code, _, err = await _cli(capsys, "import-catalogue", "banks", str(tmp_path / "missing.csv"))
    assert code == 1 and "No such file or directory" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_progress_bar_on_a_terminal_and_in_a_log() -> None:
    terminal = _Terminal()
    report = progress_bar(terminal, "revenue-types", width=10)
    for done in range(0, 2001, 500):
        await report(done, 2000)
    frames = terminal.getvalue().split("\r")[1:]
    assert frames[0] == "revenue-types: [----------]   0% 0/2000"
    assert frames[2] == "revenue-types: [#####-----]  50% 1000/2000"
    assert frames[-1] == "revenue-types: [##########] 100% 2000/2000\n"
    log = io.StringIO()
    report = progress_bar(log, "agencies")
    for done in range(0, 1001):
        await report(done, 1000)
    assert log.getvalue().splitlines() == [
        "agencies: 0% (0/1000)",
        "agencies: 25% (250/1000)",
        "agencies: 50% (500/1000)",
        "agencies: 75% (750/1000)",
        "agencies: 100% (1000/1000)",
    ]
