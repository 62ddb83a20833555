"""The sandbox as a server: loopback only, `preflight sandbox`, clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from preflight.cli import main
from preflight.model.errors import ConfigError
from preflight.sandbox import Sandbox, SandboxConfig


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_refuses_to_bind_anything_but_loopback(host: str) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        Sandbox(host=host)


def test_binds_loopback_on_a_free_port() -> None:
    with Sandbox(host="localhost") as sb:
        assert sb.url.startswith("http://127.0.0.1:")
        assert not sb.url.endswith(":0")
        assert httpx.get(f"{sb.url}/_sandbox/tasks").json()["count"] == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sb.url}/_sandbox/tasks")


def test_keys_never_appear_in_reprs() -> None:
    config = SandboxConfig()
    with Sandbox(config) as sb:
        for text in (repr(sb), repr(config)):
            assert config.kling_secret_key not in text
            assert config.wavespeed_api_key not in text


def test_cli_refuses_a_public_host() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "loopback" in result.output


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_cli_prints_its_environment_and_stops_cleanly(
    stop_signal: signal.Signals, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "preflight", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        settings = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines[1:])
        assert settings["KLING_BASE_URL"].startswith("http://127.0.0.1:")
        assert settings["KLING_BASE_URL"] == settings["WAVESPEED_BASE_URL"]
        answer = httpx.get(f"{settings['KLING_BASE_URL']}/v1/videos/lip-sync")
        assert answer.json()["code"] == 1001
        assert list(tmp_path.glob("preflight-sandbox-*"))  # its working files while it runs
        proc.send_signal(stop_signal)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert not list(tmp_path.glob("preflight-sandbox-*"))  # and they are gone
