"""Fail when any function under the given folders is more complex than the ceiling (radon's CC).

    python .ci/complexity.py 15 preflight/fixing [more folders]

A ceiling of 15 sits between radon's grades B (<=10) and C (<=20), so xenon's grade options
cannot state it; radon's API can.
"""

from __future__ import annotations

import sys
from pathlib import Path

from radon.complexity import cc_visit


def main(argv: list[str]) -> int:
    limit, folders = int(argv[0]), argv[1:]
    over = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.py")):
            for block in cc_visit(path.read_text(encoding="utf-8")):
                if block.complexity > limit:
                    over.append(f"{path}:{block.lineno} {block.fullname} {block.complexity}")
    for line in over:
        sys.stderr.write(f"complexity above {limit}: {line}\n")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
