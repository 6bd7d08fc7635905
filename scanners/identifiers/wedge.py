"""Keyboard-wedge quirks: what a scanner that types into a text field does to its data.

A wedge scanner types its read as keystrokes, so the text that arrives differs
from the symbol's content in known ways. :func:`clean_read` undoes them:

* **Framing.** Scanners end a read with CR, LF or TAB and some wrap it in STX
  and ETX (or end it with EOT). These are stripped from both ends, with any
  configured prefix and suffix (:class:`WedgeConfig`), e.g. a ``SCAN:`` prefix
  set up in the scanner.
* **Full-width input.** With a Chinese input method in full-width mode the
  keystrokes arrive as ``０１０９…``; the text is NFKC-normalised, which
  turns them back into ASCII.
* **Several reads in one.** Text left over inside (a CR or LF between two
  reads) is refused as ``multiple_reads``; any other control character
  is refused as ``control_character``, naming it and its position.

**The GS separator.** GS1 data uses FNC1, sent as GS (ASCII 29), to end a
variable-length value. A keyboard cannot type ASCII 29 portably (it is
Ctrl+], which depends on the keyboard layout and the receiving program), so
scanners are set up to send something else, or the GS is lost on the way.
:func:`gs_to_separator` turns these into GS inside GS1 element strings (and only
there: ``~`` for instance is legal in a URL):

=====================  =======================================================
substitute             where it comes from
=====================  =======================================================
``\\x1d``               the real character (Alt+029 on Windows, or HID mode)
``␝`` (U+241D)          the Unicode picture of GS, from copy-paste out of tools
``<GS>`` ``{GS}``       the common text replacements set in Zebra (ADF / DataWedge)
``[GS]``                and Honeywell (Data Format Editor) scanners, and how GS1
``<FNC1>`` ``{FNC1}``   documents print the separator; any case
``[FNC1]``
``^]``                  caret notation, as terminals echo Ctrl+]
``\\x1d`` ``\\u001d``   escape sequences typed out by scripts and loggers
``^``                   the GS1 Syntax Engine's FNC1 notation (``^0109…^21…``)
=====================  =======================================================

Every default but ``<GS>`` and ``<FNC1>`` is made of characters that no GS1
value can contain (none is in CSET 82), so reading it as a separator can never
change data. ``<GS>``/``<FNC1>`` are spelled with CSET 82 characters, but the
convention is so widespread that a value containing them literally is far less
likely than a scanner sending them.

``~`` and ``|`` are also used as substitutes, but not by default: ``~1`` is
the FNC1 escape of several label programs, so a stray ``~`` before ``10``
would turn a value into a new AI. They can be enabled with
``WedgeConfig(gs_substitutes=("~",))`` (``--gs-substitute`` on the command
line), as can any other substitute that contains a character outside CSET 82.
Keyboard layouts that turn Ctrl+] into another character (``@``, ``+`` or
nothing on some European layouts) cannot be undone reliably: configure the
scanner to send one of the substitutes above instead.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from scanners.identifiers.ai_table import CSET82
from scanners.identifiers.errors import ScanError

GS: Final = "\x1d"
FRAMING: Final = " \t\r\n\x00\x02\x03\x04"
"""Stripped from both ends: whitespace, NUL, STX, ETX, EOT."""
MAX_READ: Final = 4096
DEFAULT_GS_SUBSTITUTES: Final = (
    "\u241d",
    "<GS>",
    "{GS}",
    "[GS]",
    "<FNC1>",
    "{FNC1}",
    "[FNC1]",
    "^]",
    "\\x1d",
    "\\u001d",
    "^",
)
_LINE_BREAKS: Final = "\r\n"


@dataclass(frozen=True, slots=True)
class WedgeConfig:
    """How this site's scanners are set up: prefixes, suffixes and extra GS substitutes."""

    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    gs_substitutes: tuple[str, ...] = ()
    """Extra strings to read as GS in element strings, e.g. ``("~",)``."""

    def __post_init__(self) -> None:
        for substitute in self.gs_substitutes:
            if not substitute or set(substitute) <= set(CSET82):
                raise ValueError(
                    f"GS substitute {substitute!r} must contain a character outside GS1's "
                    "CSET 82, or it could be part of a value"
                )


DEFAULT_WEDGE: Final = WedgeConfig()


def clean_read(raw: str, config: WedgeConfig = DEFAULT_WEDGE) -> str:
    """Undo framing, configured prefixes/suffixes and full-width input.

    Raises:
        ScanError: ``too_long``, ``empty_scan``, ``multiple_reads``.
    """
    if len(raw) > MAX_READ:
        raise ScanError("too_long", f"a scan is at most {MAX_READ} characters; this is {len(raw)}")
    text = unicodedata.normalize("NFKC", raw).strip(FRAMING)
    for prefix in config.prefixes:
        text = text.removeprefix(prefix).strip(FRAMING)
    for suffix in config.suffixes:
        text = text.removesuffix(suffix).strip(FRAMING)
    if not text:
        raise ScanError("empty_scan", "the scan is empty")
    for position, char in enumerate(text, start=1):
        if char in _LINE_BREAKS:
            raise ScanError(
                "multiple_reads",
                f"the scan continues after a line break (character {position}): "
                "two reads ran together; scan one label at a time",
                position=position,
            )
    return text


def gs_to_separator(data: str, config: WedgeConfig = DEFAULT_WEDGE) -> str:
    """Replace every GS substitute in an element string with GS."""
    substitutes = sorted({*DEFAULT_GS_SUBSTITUTES, *config.gs_substitutes}, key=len, reverse=True)
    pattern = "|".join(re.escape(substitute) for substitute in substitutes)
    return re.sub(pattern, GS, data, flags=re.IGNORECASE)


def refuse_control_characters(text: str, *, allowed: str = "") -> None:
    """Refuse any control character not in ``allowed``, naming it and where it is.

    Raises:
        ScanError: ``control_character``.
    """
    for position, char in enumerate(text, start=1):
        if char in allowed:
            continue
        if unicodedata.category(char) == "Cc":
            raise ScanError(
                "control_character",
                f"control character U+{ord(char):04X} at character {position}: "
                "only GS may separate GS1 values; the read is garbled, scan again",
                position=position,
                character=f"U+{ord(char):04X}",
            )
