"""Retry policy: the table, the delays and Retry-After, at the transport level (no sleeping)."""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable

import httpx
import jwt
import pytest

from preflight.client import KlingClient, RetryPolicy, WaveSpeedClient, parse_retry_after
from preflight.client._policy import (
    CONCURRENCY_INITIAL_DELAY,
    MAX_DELAY,
    MAX_RETRY_AFTER,
    Failure,
    certainly_not_started,
    is_ambiguous,
)
from preflight.model.errors import (
    AccountError,
    AuthenticationError,
    ConcurrencyLimitError,
    ContentPolicyError,
    InvalidRequestError,
    ServerError,
)

NOW = 1_700_000_000.0
ACCESS = "ak-test-0123456789"
SECRET = "sk-test-0123456789abcdef0123456789abcdef"
REQUEST = httpx.Request("GET", "http://127.0.0.1/")


def http(status: int, code: int | None = None, **headers: str) -> Failure:
    return Failure(http_status=status, code=code, headers=headers)


def transport(exc_type: type[httpx.TransportError]) -> Failure:
    return Failure(transport_error=exc_type("boom", request=REQUEST))


# --- the table --------------------------------------------------------------------------------
# (failure, retried as a query, retried as a create, ambiguous for a create)
TABLE: list[tuple[str, Failure, bool, bool, bool]] = [
    ("connect error", transport(httpx.ConnectError), True, True, False),
    ("connect timeout", transport(httpx.ConnectTimeout), True, True, False),
    ("pool timeout", transport(httpx.PoolTimeout), True, True, False),
    ("read timeout", transport(httpx.ReadTimeout), True, False, True),
    ("write timeout", transport(httpx.WriteTimeout), True, False, True),
    ("dropped", transport(httpx.RemoteProtocolError), True, False, True),
    ("read error", transport(httpx.ReadError), True, False, True),
    ("1302 too fast", http(429, 1302), True, True, False),
    ("1303 concurrency", http(429, 1303), True, True, False),
    ("bare 429", http(429), True, True, False),
    ("5000 internal", http(500, 5000), True, False, True),
    ("5001 maintenance", http(503, 5001), True, False, True),
    ("5002 backlog", http(504, 5002), True, False, True),
    ("bare 502", http(502), True, False, True),
    ("1100 account", http(429, 1100), False, False, False),
    ("1101 arrears", http(429, 1101), False, False, False),
    ("1102 pack used up", http(429, 1102), False, False, False),
    ("1103 no access", http(403, 1103), False, False, False),
    ("1304 ip policy", http(429, 1304), False, False, False),
    ("1000 auth", http(401, 1000), False, False, False),
    ("1004 expired", http(401, 1004), False, False, False),
    ("1201 invalid", http(400, 1201), False, False, False),
    ("1203 not found", http(404, 1203), False, False, False),
    ("1301 content", http(400, 1301), False, False, False),
    ("bare 400", http(400), False, False, False),
]


@pytest.mark.parametrize(
    ("failure", "query", "create", "ambiguous"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_retry_table(failure: Failure, query: bool, create: bool, ambiguous: bool) -> None:
    policy = RetryPolicy()
    assert policy._should_retry(failure, 0) is query
    assert policy._should_retry(failure, 0, create=True) is create
    assert certainly_not_started(failure) is create
    assert is_ambiguous(failure) is ambiguous


def test_retries_stop_at_the_limit() -> None:
    policy = RetryPolicy(max_retries=2, concurrency_retries=5)
    assert [policy._should_retry(http(503, 5001), n) for n in range(4)] == [
        True,
        True,
        False,
        False,
    ]
    assert [policy._should_retry(http(429, 1303), n) for n in range(7)] == [True] * 5 + [False] * 2


# --- delays -----------------------------------------------------------------------------------
def test_backoff_grows_exponentially_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(random=lambda: 0.0)
    delays = [policy._retry_delay(http(503, 5001), n) for n in range(8)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert delays[-1] == MAX_DELAY
    assert delays == sorted(delays)


def test_jitter_shortens_by_at_most_a_quarter() -> None:
    low = RetryPolicy(random=lambda: 0.999999)._retry_delay(http(503, 5001), 2)
    high = RetryPolicy(random=lambda: 0.0)._retry_delay(http(503, 5001), 2)
    assert high == 2.0
    assert 1.5 <= low < 2.0


def test_concurrency_backoff_starts_at_one_second_or_more_even_with_jitter() -> None:
    policy = RetryPolicy(random=lambda: 0.999999)
    delays = [policy._retry_delay(http(429, 1303), n) for n in range(10)]
    assert min(delays) >= CONCURRENCY_INITIAL_DELAY >= 1.0
    assert delays[-1] > MAX_DELAY  # slots free when tasks end: it may wait longer than others


def test_retry_after_seconds_wins_over_backoff() -> None:
    policy = RetryPolicy(random=lambda: 0.0)
    assert policy._retry_delay(http(429, 1302, **{"Retry-After": "7"}), 0) == 7.0


def test_a_short_retry_after_on_1303_still_waits_a_second() -> None:
    policy = RetryPolicy(random=lambda: 0.0)
    assert policy._retry_delay(http(429, 1303, **{"Retry-After": "0"}), 0) == 1.0
    assert policy._retry_delay(http(429, 1303, **{"Retry-After": "5"}), 0) == 5.0


def test_retry_after_http_date_is_relative_to_now() -> None:
    date = email.utils.formatdate(NOW + 12, usegmt=True)
    policy = RetryPolicy(random=lambda: 0.0, now=lambda: NOW)
    assert policy._retry_delay(http(503, 5001, **{"Retry-After": date}), 0) == pytest.approx(12)


def test_an_absurd_retry_after_falls_back_to_backoff() -> None:
    policy = RetryPolicy(random=lambda: 0.0)
    too_long = str(int(MAX_RETRY_AFTER * 10))
    assert policy._retry_delay(http(503, 5001, **{"Retry-After": too_long}), 1) == 1.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "-4"}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "x", "Retry-After": "4"}, 4.0),
        ({"Retry-After": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"Retry-After": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    got = parse_retry_after(headers, now=lambda: NOW)
    assert got == (None if expected is None else pytest.approx(expected))


# --- through a client, on httpx.MockTransport --------------------------------------------------
def kling_answer(code: int, status: int, data: object = None, **headers: str) -> httpx.Response:
    body = {"code": code, "message": f"code {code}", "request_id": "req-1", "data": data}
    return httpx.Response(status, json=body, headers=headers)


TASK = {"task_id": "812345678901234567", "task_status": "submitted", "created_at": NOW * 1000}


class Recorder:
    """A MockTransport handler answering from a script, recording requests and sleeps."""

    def __init__(self, *script: httpx.Response | Exception | Callable[[httpx.Request], object]):
        self.script = list(script)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        if callable(step):
            result = step(request)
            assert isinstance(result, httpx.Response)
            return result
        return step

    def kling(self, **kwargs: object) -> KlingClient:
        return KlingClient(
            ACCESS,
            SECRET,
            base_url="http://127.0.0.1:9",
            http_client=httpx.Client(transport=httpx.MockTransport(self)),
            sleep=self.sleeps.append,
            retry=RetryPolicy(random=lambda: 0.0),
            **kwargs,  # type: ignore[arg-type]
        )


def test_get_retries_5001_and_honours_retry_after() -> None:
    rec = Recorder(kling_answer(5001, 503, **{"Retry-After": "3"}), kling_answer(0, 200, TASK))
    task = rec.kling().get_lip_sync("812345678901234567")
    assert task.id == "812345678901234567"
    assert len(rec.requests) == 2
    assert rec.sleeps == [3.0]


def test_get_retries_a_dropped_connection() -> None:
    rec = Recorder(httpx.RemoteProtocolError("gone"), kling_answer(0, 200, TASK))
    assert rec.kling().get_lip_sync("812345678901234567").status.value == "submitted"
    assert rec.sleeps == [0.5]


def test_create_retries_1303_from_one_second() -> None:
    rec = Recorder(kling_answer(1303, 429), kling_answer(1303, 429), kling_answer(0, 200, TASK))
    task = rec.kling().create_lip_sync(video_url="http://v/a.mp4", audio_url="http://v/a.mp3")
    assert task.id == TASK["task_id"]
    assert len(rec.requests) == 3
    assert rec.sleeps == [1.0, 2.0]


def test_create_retries_a_refused_connection() -> None:
    rec = Recorder(httpx.ConnectError("refused"), kling_answer(0, 200, TASK))
    rec.kling().create_lip_sync(video_url="http://v/a.mp4", audio_url="http://v/a.mp3")
    assert [r.method for r in rec.requests] == ["POST", "POST"]


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        (1102, 429, AccountError),
        (1101, 429, AccountError),
        (1201, 400, InvalidRequestError),
        (1301, 400, ContentPolicyError),
        (1000, 401, AuthenticationError),
    ],
)
def test_create_never_retries_final_errors(code: int, status: int, error: type[Exception]) -> None:
    rec = Recorder(kling_answer(code, status))
    with pytest.raises(error) as info:
        rec.kling().create_lip_sync(video_url="http://v/a.mp4", audio_url="http://v/a.mp3")
    assert len(rec.requests) == 1
    assert rec.sleeps == []
    assert info.value.code == code  # type: ignore[attr-defined]
    assert info.value.http_status == status  # type: ignore[attr-defined]
    assert info.value.request_id == "req-1"  # type: ignore[attr-defined]


def test_concurrency_retries_give_up_with_the_right_class() -> None:
    rec = Recorder(*[kling_answer(1303, 429)] * 3)
    client = rec.kling()
    client._core.policy = RetryPolicy(concurrency_retries=2, random=lambda: 0.0)
    with pytest.raises(ConcurrencyLimitError):
        client.create_lip_sync(video_url="http://v/a.mp4", audio_url="http://v/a.mp3")
    assert len(rec.requests) == 3


def test_expired_token_is_renewed_once() -> None:
    clock = [NOW]
    rec = Recorder(kling_answer(1004, 401), kling_answer(1004, 401), kling_answer(1004, 401))
    client = rec.kling(clock=lambda: clock[0])
    with pytest.raises(AuthenticationError):
        client.get_lip_sync("1")
    assert len(rec.requests) == 2  # the first try and one renewal: no loop
    tokens = [r.headers["Authorization"].removeprefix("Bearer ") for r in rec.requests]
    for token in tokens:
        claims = jwt.decode(
            token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
        )
        assert claims == {"iss": ACCESS, "exp": int(NOW) + 1800, "nbf": int(NOW) - 5}
        assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


def test_server_error_on_create_looks_for_the_task_before_anything_else() -> None:
    listed = dict(TASK, task_info={"external_task_id": None})

    def listing(request: httpx.Request) -> httpx.Response:
        sent = json.loads(rec.requests[0].content)
        assert request.method == "GET"
        item = dict(listed, task_info={"external_task_id": sent["external_task_id"]})
        return kling_answer(0, 200, [item])

    rec = Recorder(kling_answer(5000, 500), listing)
    task = rec.kling(clock=lambda: NOW).create_lip_sync(
        video_url="http://v/a.mp4", audio_url="http://v/a.mp3"
    )
    assert task.id == TASK["task_id"]
    assert [r.method for r in rec.requests] == ["POST", "GET"]


def test_wavespeed_submit_is_never_sent_twice() -> None:
    rec = Recorder(httpx.Response(500, json={"code": 5000, "message": "oops", "data": None}))
    client = WaveSpeedClient(
        "ws-test",
        base_url="http://127.0.0.1:9",
        http_client=httpx.Client(transport=httpx.MockTransport(rec)),
        sleep=rec.sleeps.append,
    )
    with pytest.raises(ServerError, match="may have been created"):
        client.submit(
            "kwaivgi/kling-lipsync/audio-to-video", video="http://v/a.mp4", audio="http://v/a.mp3"
        )
    assert len(rec.requests) == 1


def test_wavespeed_poll_retries_a_bare_429() -> None:
    done = {"id": "abc", "status": "completed", "outputs": ["http://x/o.mp4"]}
    rec = Recorder(
        httpx.Response(429, json={"code": 429, "message": "quota", "data": None}),
        httpx.Response(200, json={"code": 200, "message": "success", "data": done}),
    )
    client = WaveSpeedClient(
        "ws-test",
        base_url="http://127.0.0.1:9",
        http_client=httpx.Client(transport=httpx.MockTransport(rec)),
        sleep=rec.sleeps.append,
        retry=RetryPolicy(random=lambda: 0.0),
    )
    assert client.result("abc").video_url == "http://x/o.mp4"
    assert rec.sleeps == [0.5]


def test_a_short_secret_key_signs_without_a_warning() -> None:
    from preflight.client._auth import KlingAuth

    token = KlingAuth("ak", "short", clock=lambda: NOW).token()  # warnings are errors here
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {"iss": "ak", "exp": int(NOW) + 1800, "nbf": int(NOW) - 5}


def test_tokens_are_reused_until_the_renewal_margin() -> None:
    from preflight.client._auth import RENEW_MARGIN, TOKEN_LIFETIME, KlingAuth

    now = [NOW]
    auth = KlingAuth(ACCESS, SECRET, clock=lambda: now[0])
    first = auth.token()
    now[0] += TOKEN_LIFETIME - RENEW_MARGIN - 1
    assert auth.token() == first
    now[0] += 1
    assert auth.token() != first
    renewed = auth.token()
    auth.invalidate()
    assert auth.token() == renewed  # same second, same claims: the same token, signed anew
    assert "Bearer " + renewed == auth.headers()["Authorization"]
