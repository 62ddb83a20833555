"""The official ``fal-client`` SDK against the sandbox over TLS: the sandbox speaks fal's wire
format to fal's own client, not just to preflight's.

fal-client always speaks https and reads its hosts once, at import, from ``FAL_QUEUE_RUN_HOST``
and ``FAL_RUN_HOST``: so it runs in a child process whose environment points it at the sandbox,
which serves https with a certificate made for this test (``trustme``); the child trusts that CA
through ``SSL_CERT_FILE``, which httpx reads. Its REST API and CDN hosts (uploads) are fixed
constants with no environment variable: the child sets those two module attributes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from preflight.sandbox import Sandbox, SandboxConfig

CHILD = r"""
import json, sys, time
import fal_client
from fal_client import client as sdk

origin, video_path, audio_path = sys.argv[1:4]
sdk.REST_URL = origin  # no environment variable for these two hosts
sdk.CDN_URL = origin
out = {}
out["video_url"] = video = fal_client.upload_file(video_path)
out["audio_url"] = audio = fal_client.upload_file(audio_path)
model = "fal-ai/kling-video/lipsync/audio-to-video"
handle = fal_client.submit(model, arguments={"video_url": video, "audio_url": audio})
out["request_id"] = handle.request_id
seen = []
for _ in range(600):
    status = handle.status(with_logs=True)
    name = type(status).__name__
    if not seen or seen[-1] != name:
        seen.append(name)
    if isinstance(status, fal_client.Completed):
        break
    time.sleep(0.05)
out["seen"] = seen
out["result"] = fal_client.result(model, handle.request_id)
again = fal_client.status(model, handle.request_id, with_logs=True)
out["final"] = type(again).__name__
out["final_error"] = again.error
queued = fal_client.submit(model, arguments={"video_url": video, "audio_url": audio})
fal_client.cancel(model, queued.request_id)
out["cancelled"] = queued.request_id
try:
    fal_client.submit(model, arguments={"video_url": video})
except fal_client.client.FalClientHTTPError as exc:
    out["refused"] = [exc.status_code, str(exc)]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def tls_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    # a slow queue, so the SDK's own polling sees a request waiting, then running
    config = SandboxConfig(submitted_seconds=0.6, processing_seconds=0.6)
    with Sandbox(config, ssl_certfile=cert_file, ssl_keyfile=key_file) as sb:
        yield sb, ca_file


def test_fal_client_uploads_submits_polls_fetches_and_cancels(
    tls_sandbox: tuple[Sandbox, Path], media: Callable[[str], Path], tmp_path: Path
) -> None:
    sandbox, ca_file = tls_sandbox
    assert sandbox.url.startswith("https://127.0.0.1:")
    host = sandbox.url.removeprefix("https://")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FAL_")},
        "FAL_KEY": sandbox.fal_key,
        "FAL_QUEUE_RUN_HOST": host,
        "FAL_RUN_HOST": host,
        "SSL_CERT_FILE": str(ca_file),
        "HOME": str(tmp_path),  # no ~/.fal login is looked at
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, sandbox.url, str(media("ok")), str(media("mp3"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])

    assert out["video_url"].startswith(f"{sandbox.url}/files/uploads/")
    assert out["seen"][0] in ("Queued", "InProgress")
    assert "InProgress" in out["seen"]
    assert out["seen"][-1] == "Completed"
    task = sandbox.task(out["request_id"])
    assert task.provider == "fal"
    assert task.status == "succeed"
    assert task.params["video_url"] == out["video_url"]
    assert out["result"]["video"]["url"] == task.result_url
    assert out["final"] == "Completed"
    assert out["final_error"] is None
    assert sandbox.task(out["cancelled"]).status == "failed"
    assert sandbox.task(out["cancelled"]).status_msg == "Request cancelled by the user"
    assert out["refused"][0] == 422
    assert "audio_url" in out["refused"][1]
    assert sandbox.fal_key not in done.stdout + done.stderr
