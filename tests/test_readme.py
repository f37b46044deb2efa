"""The README's "Integrate a portal" curl lines run as pasted, after the exports `make run` prints.

The demo is seeded exactly as `make run` does it (`seed_demo`), a real server listens on a port,
and each ```sh block of that section runs in bash with only BASE, ADMIN and KEY set, as a newcomer
would paste it. curl reads a config file (``CURL_HOME``) that adds nothing but the status code at
the end of its output, so the blocks themselves are not edited.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from app.config import Settings
from app.main import create_app
from app.services.operations.seed import seed_demo
from tests.conftest import ADMIN_TOKEN
from tests.live_server import free_port, live_server

README = Path(__file__).resolve().parent.parent / "README.md"
STATUS = "@@http_status="


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def sh_blocks(markdown: str) -> list[str]:
    """The ```sh blocks, unindented (they may sit inside a numbered list)."""
    blocks = []
    for match in re.finditer(r"^( *)```sh\n(.*?)^\1```", markdown, re.MULTILINE | re.DOTALL):
        indent = len(match.group(1))
        blocks.append("\n".join(line[indent:] for line in match.group(2).splitlines()))
    return blocks


def test_the_section_has_curl_blocks() -> None:
    blocks = sh_blocks(section("Integrate a portal"))
    assert len(blocks) >= 2 and all("curl" in block for block in blocks)
    # The catalogue search is written to be pasted: no raw space in a URL.
    assert "q=ho tich" not in section("Integrate a portal")


def test_readme_curl_lines_run_as_pasted(settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = settings_factory(public_base_url=base)
    demo = asyncio.run(seed_demo(settings))
    curl_home = tmp_path / "curl"
    curl_home.mkdir()
    (curl_home / ".curlrc").write_text(f'silent\nshow-error\nwrite-out = "\\n{STATUS}%{{http_code}}\\n"\n')
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CURL_HOME": str(curl_home),
        "BASE": base,
        "ADMIN": ADMIN_TOKEN,
        "KEY": demo.api_key,
    }
    answers = []
    with live_server(create_app(settings, start_workers=False), port=port):
        for block in sh_blocks(section("Integrate a portal")):
            run = subprocess.run(["bash", "-c", block], env=env, capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, (block, run.stderr)
            answered = re.findall(rf"(.*?)\n{STATUS}(\d{{3}})\n", run.stdout, re.DOTALL)
            assert len(answered) == block.count("curl "), run.stdout
            for body, status in answered:
                assert status.startswith("2"), (block, status, body)
                answers.append(json.loads(body))
    client, payment, revenue_types, providers, listed = answers
    assert client["api_key"].startswith("pbk_") and client["webhook_secret"].startswith("whsec_")
    assert payment["status"] == "pending" and payment["amount"] == 50000
    assert payment["checkout_url"].startswith(f"{base}/checkout/")
    assert "2771" in [t["code"] for t in revenue_types["data"]]
    assert "sandbox" in [p["provider"] for p in providers["data"]]
    assert [p["id"] for p in listed["data"]] == [payment["id"]]


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()
