"""matplotlib set up for the output's text: third-party messages hold CJK, accents and emoji.

The fonts are Debian packages (scripts/install-system-packages.sh fonts, run by ``make test`` and ``make lab``):
DejaVu Sans first, Noto Sans CJK JP for Chinese and Japanese, Symbola for emoji (an outline
font: matplotlib cannot draw colour bitmap emoji). matplotlib falls back from family to family
glyph by glyph, so one label may mix all three.
"""

from __future__ import annotations

from toolkit.errors import ToolkitError

import re

__all__ = ["FONT_FAMILIES", "FontsMissing", "use_fonts", "label"]

FONT_FAMILIES = ("DejaVu Sans", "Noto Sans CJK JP", "Symbola")
_FILES = {"Noto Sans CJK JP": "NotoSansCJK-Regular", "Symbola": "Symbola"}


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def label(text: str) -> str:
    """A message as a one-line plot label: line breaks drawn as ↵, tabs as spaces, other control
    characters (no font has a glyph for them) as U+FFFD. The data keeps the message unchanged."""
    one_line = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", " ↵ ").replace("\t", " ")
    return _CONTROL.sub("\ufffd", one_line)


class FontsMissing(ToolkitError):
    """A font family the plots need is not installed."""


def use_fonts() -> tuple[str, ...]:
    """Make matplotlib draw with FONT_FAMILIES (fonts installed after its cache was built are added)."""
    import matplotlib
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family, stem in _FILES.items():
        if family not in known:
            for path in font_manager.findSystemFonts():
                if stem in path:
                    font_manager.fontManager.addfont(path)
    known = {f.name for f in font_manager.fontManager.ttflist}
    missing = [family for family in FONT_FAMILIES if family not in known]
    if missing:
        raise FontsMissing(f"fonts: {', '.join(missing)} not installed; run `bash scripts/install-system-packages.sh fonts`")
    matplotlib.rcParams["font.family"] = list(FONT_FAMILIES)
    return FONT_FAMILIES
