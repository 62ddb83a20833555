"""Fail when a function under PATH is more complex than LIMIT (radon's cyclomatic complexity).

Usage: python .ci/complexity.py PATH LIMIT
"""

from __future__ import annotations

import sys
from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Class, Function


def functions(blocks: list[Function | Class]) -> list[Function]:
    found: list[Function] = []
    for block in blocks:
        if isinstance(block, Class):
            found.extend(functions(list(block.methods) + list(block.inner_classes)))
        else:
            found.append(block)
            found.extend(functions(list(block.closures)))
    return found


def main(root: str, limit: int) -> int:
    over = [
        f"{path}:{f.lineno} {f.fullname} has complexity {f.complexity} (limit {limit})"
        for path in sorted(Path(root).rglob("*.py"))
        for f in functions(cc_visit(path.read_text(encoding="utf-8")))
        if f.complexity > limit
    ]
    verdict = "\n".join(over) if over else f"{root}: every function at most {limit}"
    sys.stdout.write(verdict + "\n")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
