"""Packaging and deployment files: `pip install .` gives a working `paybridge` command with its
templates, data, fonts and migrations inside the installed package; compose.yaml runs PostgreSQL,
the migrations, the API and a separate worker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with paybridge installed from a copy of the source (``--no-deps``: the shared
    venv's site-packages provide the dependencies through a .pth file, so nothing is downloaded)."""
    work = tmp_path_factory.mktemp("install")
    src = work / "src"
    src.mkdir()
    for name in ("app", "migrations"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(
        subprocess.run(
            [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "shared_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def _run(venv: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # Run outside the source tree so that `app` can only come from the installed package.
    return subprocess.run(
        argv,
        cwd=venv,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": "", **(env or {})},
    )


@pytest.mark.packaging
def test_paybridge_command_is_installed(installed: Path) -> None:
    done = _run(installed, str(installed / "bin" / "paybridge"), "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: paybridge")
    for command in ("migrate", "serve", "worker", "create-client", "add-gateway-account", "import-catalogue"):
        assert command in done.stdout
    same = _run(installed, str(installed / "bin" / "python"), "-m", "app", "--help")
    assert same.stdout == done.stdout


@pytest.mark.packaging
def test_installed_package_carries_its_files_and_migrations(installed: Path) -> None:
    probe = (
        "import app, pathlib, json; from app import migrate; base = pathlib.Path(app.__file__).parent; "
        "print(json.dumps({'base': str(base), 'migrations': str(migrate.migrations_dir()), "
        "'head': migrate.head_revision(), 'files': sorted(str(p.relative_to(base)) for p in base.rglob('*') "
        "if p.suffix in ('.html', '.css', '.csv', '.ttf', '.mako') or p.parent.name == 'versions')}))"
    )
    done = _run(installed, str(installed / "bin" / "python"), "-c", probe)
    assert done.returncode == 0, done.stderr
    import json

    from app.migrate import head_revision

    found: dict[str, Any] = json.loads(done.stdout)
    assert not found["base"].startswith(str(ROOT)), "imported the source tree, not the installed package"
    assert found["migrations"] == found["base"] + "/migrations"
    assert found["head"] == head_revision()
    files = set(found["files"])
    expected = {
        "templates/checkout.html",
        "templates/problem.html",
        "templates/dashboard/base.html",
        "static/checkout.css",
        "data/banks.csv",
        "data/revenue_types.csv",
        "fonts/DejaVuSans.ttf",
        "migrations/script.py.mako",
    }
    assert expected <= files
    assert {f"migrations/versions/{p.name}" for p in (ROOT / "migrations" / "versions").glob("*.py")} <= files


@pytest.mark.packaging
def test_installed_command_migrates_a_database(installed: Path, db_url: str) -> None:
    done = _run(
        installed,
        str(installed / "bin" / "paybridge"),
        "migrate",
        env={"PAYBRIDGE_DATABASE_URL": db_url, "PAYBRIDGE_LOG_LEVEL": "WARNING"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "database at head" in done.stdout


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_compose_runs_postgres_migrations_api_and_a_separate_worker() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "migrate", "api", "worker"}
    assert services["db"]["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["migrate"]["command"][-1] == "migrate"
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["api"]["command"][3] == "serve" and services["worker"]["command"][-1] == "worker"
    assert services["api"]["image"] == services["worker"]["image"] == services["migrate"]["image"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    api_env, worker_env = services["api"]["environment"], services["worker"]["environment"]
    assert api_env["PAYBRIDGE_RUN_WORKERS"] == "false" and "PAYBRIDGE_RUN_WORKERS" not in worker_env
    assert api_env["PAYBRIDGE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert api_env["PAYBRIDGE_DATABASE_URL"] == worker_env["PAYBRIDGE_DATABASE_URL"]
    assert api_env["PAYBRIDGE_ENV"] == "production"
    # Secrets come from the operator's environment, and compose refuses to start without them.
    for secret in ("PAYBRIDGE_SECRET_KEY", "PAYBRIDGE_ADMIN_TOKEN", "PAYBRIDGE_PUBLIC_BASE_URL"):
        assert api_env[secret].startswith(f"${{{secret}:?"), secret
    assert services["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert all(port.startswith("127.0.0.1:") for port in services["api"]["ports"])
