"""Text that came from outside (file names, URLs, provider messages), made safe to print.

A file name may hold anything but ``/`` and NUL: newlines, carriage returns, ESC sequences that
recolour or rewrite a terminal, Unicode line separators and bidi overrides. Printed raw, a name
such as ``evil\\n::error file=x::pwned.mp4`` becomes a GitHub Actions workflow command (or an
``::add-mask::``) in a CI log, and ``\\x1b]...`` rewrites the terminal. Every text renderer
passes names through :func:`printable`; messages that may span lines go through
:func:`printable_lines`. (GitHub annotation properties and data have their own percent-encoding
in ``preflight/report/github.py``, applied on top.)
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable", "printable_lines"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}
# categories that move the cursor, end a line or reorder what follows
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unsafe(ch: str) -> bool:
    return ch in _BIDI or unicodedata.category(ch) in _UNSAFE_CATEGORIES


def printable(text: str) -> str:
    """``text`` on one line with every control character shown escaped (``\\n``, ``\\x1b``).

    Printable text, including non-ASCII names, is left as it is.
    """
    if text.isprintable():  # the common case, and fast
        return text
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in text)


def printable_lines(text: str) -> str:
    """Like :func:`printable` but keeps ``\\n`` line breaks (an error with FFmpeg's stderr tail).

    A line that would start with ``::`` (a workflow command, even after leading blanks, which the
    runner strips) is prefixed with ``| `` so it stays plain text.
    """
    lines = []
    for line in text.split("\n"):
        line = printable(line)
        if line.lstrip().startswith("::"):
            line = "| " + line
        lines.append(line)
    return "\n".join(lines)
