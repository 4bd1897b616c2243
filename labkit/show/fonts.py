"""Fonts with Korean letters, for the pictures matplotlib draws (alarm plots, the PNG diagram).

matplotlib's own font (DejaVu Sans) has no Hangul: Korean labels would come out as empty boxes.
Most computers have one such font (Windows: Malgun Gothic, macOS: Apple SD Gothic Neo, Linux:
Noto Sans CJK KR or NanumGothic when installed); these pictures use the first one found.
"""

from __future__ import annotations

# As matplotlib names them on Linux, macOS and Windows.
HANGUL_FONTS = ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Malgun Gothic",
                "Apple SD Gothic Neo", "AppleGothic", "UnDotum", "Baekmuk Gulim")


def has_hangul(text: str) -> bool:
    """Whether *text* holds a Korean syllable."""
    return any("\uac00" <= char <= "\ud7a3" for char in text)


def hangul_font() -> str | None:
    """The name of an installed font that has Korean letters, as matplotlib knows it, or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in HANGUL_FONTS if name in installed), None)
