"""Plots of the sample API's messages draw every glyph once toolkit.plots sets the fonts up."""

from __future__ import annotations

import io
import warnings

import matplotlib
import pytest

from toolkit import plots

matplotlib.use("agg")


def _draw(labels: list[str]) -> list[str]:
    """Draw a bar chart labelled with ``labels``; return the warnings matplotlib gave."""
    import matplotlib.pyplot as plt

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.barh(range(len(labels)), range(1, len(labels) + 1), tick_label=labels)
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    return [str(w.message) for w in caught]


@pytest.fixture()
def messages(local_stack) -> list[str]:
    truth = local_stack.sample_api.ground_truth_frame(local_stack.sample_api.location_ids()[:5])
    emoji = sorted({m for ms in truth["messages"] for m in ms if any(ord(c) > 0x1F000 for c in m)})
    cjk = sorted({m for ms in truth["messages"] for m in ms if any("\u4e00" <= c <= "\u9fff" for c in m)})
    assert emoji and cjk
    return emoji[:10] + cjk[:10]


def test_messages_with_cjk_and_emoji_draw_without_missing_glyphs(messages) -> None:
    default = matplotlib.rcParams["font.family"]
    try:
        matplotlib.rcParams["font.family"] = ["DejaVu Sans"]
        assert any("missing from font" in w for w in _draw(messages))  # the check sees the problem
        assert plots.use_fonts() == plots.FONT_FAMILIES
        assert not [w for w in _draw(messages) if "missing from font" in w]
        assert any("missing from font" in w for w in _draw(["tab\there"]))  # no font draws a tab
        assert not [w for w in _draw([plots.label("tab\there\r\nnext\x01 已 🚫")]) if "missing from font" in w]
        assert plots.label("a\nb\tc\x01") == "a ↵ b c\ufffd"
    finally:
        matplotlib.rcParams["font.family"] = default
