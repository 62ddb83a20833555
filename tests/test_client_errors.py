"""Every error class from a real exchange with the sandbox, and no secret anywhere in them."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from preflight.client import (
    TEXT_TO_VIDEO_MODEL,
    KlingClient,
    RetryPolicy,
    WaveSpeedClient,
)
from preflight.client._auth import KlingAuth
from preflight.model.errors import (
    AccountError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConcurrencyLimitError,
    ConfigError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
    TaskFailedError,
)
from preflight.sandbox import Faults, Sandbox, SandboxConfig


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(clock_scale=0)) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _no_faults(sandbox: Sandbox) -> Iterator[None]:
    sandbox.set_faults(Faults())
    yield
    sandbox.set_faults(Faults())


@pytest.fixture(scope="module")
def video_url(sandbox: Sandbox, media: Callable[[str], Path]) -> str:
    return sandbox.serve_file(media("ok"))


class Tokens:
    """Every Authorization value a client sent (to prove none of them leaks)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def hook(self, request: httpx.Request) -> None:
        value = request.headers.get("authorization", "")
        if value:
            self.seen.add(value.removeprefix("Bearer "))


@contextlib.contextmanager
def kling(
    sandbox: Sandbox,
    tokens: Tokens,
    *,
    secret: str | None = None,
    access: str | None = None,
    base_url: str | None = None,
    timeout: float = 30,
    **kwargs: Any,
) -> Iterator[KlingClient]:
    kwargs.setdefault("retry", RetryPolicy(random=lambda: 0.0))
    kwargs.setdefault("sleep", sandbox.advance)
    with (
        httpx.Client(timeout=timeout, event_hooks={"request": [tokens.hook]}) as http,
        KlingClient(
            access or sandbox.kling_access_key,
            secret or sandbox.kling_secret_key,
            base_url=base_url or sandbox.url,
            http_client=http,
            **kwargs,
        ) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def audio_url(sandbox: Sandbox, media: Callable[[str], Path]) -> str:
    return sandbox.serve_file(media("mp3"))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def provoke_everything(
    sandbox: Sandbox, video_url: str, audio_url: str, tokens: Tokens
) -> dict[type, APIError]:
    """One real exchange per error class; returns the error raised for each."""
    got: dict[type, APIError] = {}

    def expect(cls: type[APIError], call: Callable[[], object]) -> None:
        with pytest.raises(cls) as info:
            call()
        assert type(info.value) is cls, info.value
        got[cls] = info.value

    wrong_secret = "sk_" + "0" * 32
    with kling(sandbox, tokens, secret=wrong_secret) as client:
        expect(AuthenticationError, client.list_lip_sync)
    assert got[AuthenticationError].code == 1002
    with kling(sandbox, tokens) as client:
        sandbox.set_faults(Faults(billing_every=1))
        expect(
            AccountError, lambda: client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        )
        sandbox.set_faults(Faults())
        expect(
            InvalidRequestError,
            lambda: client.create_lip_sync(video_url=video_url, text="x" * 121, voice_id="AOT"),
        )
        assert got[InvalidRequestError].code == 1201
        with pytest.raises(InvalidRequestError) as missing:
            client.get_lip_sync("1234567890123456789")
        assert (missing.value.code, missing.value.http_status) == (1203, 404)
        sandbox.set_faults(Faults(fail_every=1))
        task = client.create_lip_sync(video_url=video_url, text="Hi", voice_id="AOT")
        expect(TaskFailedError, lambda: client.wait(task))
    with kling(sandbox, tokens, retry=RetryPolicy(max_retries=1, random=lambda: 0.0)) as client:
        sandbox.set_faults(Faults(rate_limit_every=1))
        expect(
            RateLimitError, lambda: client.create_lip_sync(video_url=video_url, audio_url=audio_url)
        )
        assert got[RateLimitError].code == 1302
    with kling(sandbox, tokens, retry=RetryPolicy(concurrency_retries=1, random=lambda: 0.0)) as c:
        sandbox.set_faults(Faults(concurrency_every=1))
        expect(
            ConcurrencyLimitError,
            lambda: c.create_lip_sync(video_url=video_url, audio_url=audio_url),
        )
        assert got[ConcurrencyLimitError].code == 1303
    sandbox.set_faults(Faults())
    with kling(
        sandbox,
        tokens,
        base_url=f"http://127.0.0.1:{closed_port()}",
        retry=RetryPolicy(max_retries=1),
        sleep=lambda s: None,
    ) as client:
        expect(APIConnectionError, client.list_lip_sync)
    sandbox.set_faults(Faults(delay_ms=2000))
    with kling(sandbox, tokens, timeout=0.2, retry=RetryPolicy(max_retries=0)) as client:
        expect(APITimeoutError, client.list_lip_sync)
    sandbox.set_faults(Faults(server_error_after_create_every=1))
    with (
        httpx.Client() as http,
        WaveSpeedClient(sandbox.wavespeed_api_key, base_url=sandbox.url, http_client=http) as ws,
    ):
        expect(ServerError, lambda: ws.submit(TEXT_TO_VIDEO_MODEL, video=video_url, text="Hi"))
    with (
        httpx.Client() as http,
        WaveSpeedClient("ws_wrong", base_url=sandbox.url, http_client=http) as ws,
        pytest.raises(AuthenticationError) as bad_key,
    ):
        ws.result("anything")
    assert bad_key.value.http_status == 401
    return got


def test_every_error_class_carries_code_status_and_no_secret(
    sandbox: Sandbox, video_url: str, audio_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = Tokens()
    got = provoke_everything(sandbox, video_url, audio_url, tokens)
    assert set(got) == {
        AuthenticationError,
        AccountError,
        InvalidRequestError,
        RateLimitError,
        ConcurrencyLimitError,
        APIConnectionError,
        APITimeoutError,
        ServerError,
        TaskFailedError,
    }
    assert got[AccountError].code == 1102
    assert got[AccountError].http_status == 429
    for cls in (AuthenticationError, AccountError, InvalidRequestError, RateLimitError):
        assert got[cls].request_id, cls
    assert got[ServerError].http_status == 500

    secrets = {
        sandbox.kling_access_key,
        sandbox.kling_secret_key,
        sandbox.wavespeed_api_key,
        sandbox.wavespeed_webhook_secret,
        *tokens.seen,
    }
    assert len(tokens.seen) >= 2
    shown = [text for error in got.values() for text in (str(error), repr(error))]
    shown += [text for error in got.values() if error.__cause__ for text in (str(error.__cause__),)]
    shown += [record.getMessage() for record in caplog.records]
    assert caplog.records  # the client did log (retries, ambiguity, requests) at DEBUG
    for text in shown:
        for secret in secrets:
            assert secret not in text


def test_reprs_show_no_secret(sandbox: Sandbox) -> None:
    auth = KlingAuth(sandbox.kling_access_key, sandbox.kling_secret_key)
    token = auth.token()
    with (
        httpx.Client() as http,
        KlingClient(sandbox.kling_access_key, sandbox.kling_secret_key, http_client=http) as kc,
        WaveSpeedClient(sandbox.wavespeed_api_key, http_client=http) as wc,
    ):
        texts = [repr(auth), str(auth), repr(kc), str(kc), repr(wc), repr(kc._core.policy)]
    for text in texts:
        for secret in (
            sandbox.kling_access_key,
            sandbox.kling_secret_key,
            sandbox.wavespeed_api_key,
            token,
        ):
            assert secret not in text


def test_missing_credentials_are_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY", "WAVESPEED_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="KLING_ACCESS_KEY"):
        KlingClient()
    with pytest.raises(ConfigError, match="WAVESPEED_API_KEY"):
        WaveSpeedClient()


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING_ACCESS_KEY", "ak_env_0123456789")
    monkeypatch.setenv("KLING_SECRET_KEY", "sk_env_0123456789abcdef0123456789abcdef")
    monkeypatch.delenv("KLING_BASE_URL", raising=False)
    monkeypatch.setenv("WAVESPEED_API_KEY", "ws_env")
    monkeypatch.setenv("WAVESPEED_BASE_URL", "http://127.0.0.1:1/")
    with KlingClient() as kc, WaveSpeedClient() as wc:
        assert kc.base_url == "https://api-singapore.klingai.com"
        assert wc.base_url == "http://127.0.0.1:1"
    monkeypatch.setenv("KLING_BASE_URL", "http://127.0.0.1:2")
    with KlingClient(base_url="http://127.0.0.1:3") as kc:
        assert kc.base_url == "http://127.0.0.1:3"  # an argument beats the environment
