"""The README's first hour, literally, on a fresh clone: `make run PORT=…` serves on that port
with the embedded PostgreSQL; the export line it prints makes the README's "Integrate a portal"
curl blocks run as pasted; the sandbox checkout it prints can be paid; Ctrl-C stops the server and
the database; a second `make run` keeps the same key and token and says "already present".

The clone reuses this checkout's virtualenv (``VENV=…``): installing is `make install`'s business
and CI does it first; everything after it is what a newcomer runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import free_port
from tests.test_readme import STATUS, sh_blocks

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv"))


@pytest.fixture
def clone() -> Iterator[Path]:
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to clone")
    if not (VENV / "bin" / ".runtime").exists():
        pytest.skip(f"needs the virtualenv of `make install` at {VENV}")
    # A folder others may enter: as root, the embedded server runs as 'postgres' (pytest's own
    # temporary folders are private to their user).
    home = Path(tempfile.mkdtemp(prefix="paybridge-first-hour-"))
    home.chmod(0o755)
    target = home / "paybridge"
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True, timeout=120)
        # Same lock files as this checkout's virtualenv: make sees nothing to install.
        (VENV / "bin" / ".runtime").touch()
        yield target
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBRIDGE_")}
    env.pop("MAKEFLAGS", None)
    return env


class MakeRun:
    """`make run` in the background, its output collected line by line."""

    def __init__(self, clone: Path, port: int) -> None:
        self.port = port
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            ["make", "run", f"PORT={port}", f"VENV={VENV}"],
            cwd=clone,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def wait_ready(self, seconds: float = 180.0) -> None:
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in iter(self.process.stdout.readline, ""):
                self.lines.append(line.rstrip("\n"))
            if self.process.poll() is not None:
                raise AssertionError("make run stopped:\n" + "\n".join(self.lines))
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError("make run did not serve in time:\n" + "\n".join(self.lines))

    def exports(self) -> dict[str, str]:
        line = next(line for line in self.lines if line.strip().startswith("export BASE="))
        return dict(word.split("=", 1) for word in line.strip().removeprefix("export ").split())

    def stop(self) -> str:
        """Ctrl-C, as a newcomer stops it; the rest of its output."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            rest, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            rest, _ = self.process.communicate()
        self.lines.extend((rest or "").splitlines())
        if self.process.stdout is not None:
            self.process.stdout.close()
        return "\n".join(self.lines)


@pytest.fixture
def runs(clone: Path) -> Iterator[list[MakeRun]]:
    started: list[MakeRun] = []
    yield started
    for run in started:
        if run.process.poll() is None:
            run.stop()
    subprocess.run(
        ["make", "clean", f"VENV={clone / 'no-venv'}"], cwd=clone, env=_env(), timeout=120, check=False
    )


def _call(method: str, url: str, key: str, body: dict[str, object] | None = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Idempotency-Key": url[-8:],
    }
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=20) as answer:
        result: dict[str, object] = json.loads(answer.read())
        return result


def _pay_in_sandbox(exports: dict[str, str]) -> dict[str, object]:
    base, key = exports["BASE"], exports["KEY"]
    created = _call(
        "POST",
        f"{base}/v1/payments",
        key,
        {
            "agency_code": "000.00.31.H56",
            "dossier_code": f"000.00.31.H56-FIRST-HOUR-{time.time_ns()}",
            "payer": {"name": "Nguyễn Văn A"},
            "items": [{"revenue_type_code": "2771", "amount": 50000}],
            "provider": "sandbox",
        },
    )
    gateway_page = str(created["checkout_url"])
    assert gateway_page.startswith(base + "/"), gateway_page
    form = urllib.parse.urlencode({"outcome": "success"}).encode()
    with urllib.request.urlopen(urllib.request.Request(gateway_page, data=form, method="POST"), timeout=20):
        pass
    return _call("GET", f"{base}/v1/payments/{created['id']}", key)


def _readme_blocks(clone: Path) -> list[str]:
    text = (clone / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Integrate a portal\n")
    end = text.find("\n## ", start + 1)
    return sh_blocks(text[start:end])


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's examples use curl")
def test_make_run_on_a_fresh_clone_then_the_readme(clone: Path, runs: list[MakeRun], tmp_path: Path) -> None:
    port = free_port()
    first = MakeRun(clone, port)
    runs.append(first)
    first.wait_ready()
    exports = first.exports()
    assert exports["BASE"] == f"http://127.0.0.1:{port}"
    assert exports["KEY"].startswith("pbk_") and len(exports["ADMIN"]) >= 32
    checkout = (
        next(line for line in first.lines if "checkout link:" in line).split("checkout link:")[1].strip()
    )
    assert checkout.startswith(f"http://127.0.0.1:{port}/checkout/")

    # The README's curl blocks, pasted into a shell that has only the exports.
    curl_home = tmp_path / "curl"
    curl_home.mkdir()
    (curl_home / ".curlrc").write_text(f'silent\nshow-error\nwrite-out = "\\n{STATUS}%{{http_code}}\\n"\n')
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CURL_HOME": str(curl_home),
    }
    env.update(exports)
    blocks = _readme_blocks(clone)
    assert blocks
    for block in blocks:
        done = subprocess.run(["bash", "-c", block], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (block, done.stderr)
        answers = re.findall(rf"(.*?)\n{STATUS}(\d{{3}})\n", done.stdout, re.DOTALL)
        assert len(answers) == block.count("curl "), done.stdout
        for body, status in answers:
            assert status.startswith("2"), (block, status, body)
            json.loads(body)

    # The printed checkout link opens, and a payment can be paid in the sandbox at this port (the
    # stored sandbox account and the simulator's callbacks follow PORT).
    with urllib.request.urlopen(checkout, timeout=10) as page:
        assert page.status == 200
    paid = _pay_in_sandbox(exports)
    assert paid["status"] == "succeeded", paid

    output = first.stop()
    assert "embedded PostgreSQL stopped" in output, output[-2000:]

    # Again, on another port: nothing new, the same key, every URL on the new port.
    port2 = free_port()
    second = MakeRun(clone, port2)
    runs.append(second)
    second.wait_ready()
    again = second.exports()
    assert again["KEY"] == exports["KEY"] and again["ADMIN"] == exports["ADMIN"]
    assert again["BASE"] == f"http://127.0.0.1:{port2}"
    assert "already present" in "\n".join(second.lines)
    second.stop()
