"""Plots drawn on the server as inline SVG.

Why not a vendored JavaScript library: the dashboards' plots are bar charts of a few dozen marks whose data the
view already holds, so SVG from a template costs no asset, no script and no second request, renders before any
JavaScript runs, is covered by page tests without a browser, and is readable without colour: every bar carries its
value as text and a <title>, and the chart has a role="img" with a label and a table fallback in the page.
"""

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 480, 200
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_SIDE = 18, 34, 8


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as people read it, drawn above the bar
    x: float
    y: float
    width: float
    height: float

    @property
    def centre(self) -> float:
        return round(self.x + self.width / 2, 1)

    @property
    def value_y(self) -> float:
        return round(self.y - 4, 1)


@dataclass(frozen=True)
class BarChart:
    name: str  # the accessible name, and the test's handle
    bars: tuple[Bar, ...]
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def baseline(self) -> int:
        return self.height - MARGIN_BOTTOM

    @property
    def label_y(self) -> int:
        return self.baseline + 16


def bar_chart(name: str, data: Sequence[tuple[str, float]], *, fmt: str = "{:g}") -> BarChart:
    """One bar per (label, value), scaled to the largest value; a zero value still gets its (empty) mark."""
    top = max((value for _, value in data), default=0) or 1
    slot = (WIDTH - 2 * MARGIN_SIDE) / max(len(data), 1)
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    bars = []
    for i, (label, value) in enumerate(data):
        height = plot_height * value / top
        x = MARGIN_SIDE + i * slot + slot * 0.1
        y = HEIGHT - MARGIN_BOTTOM - height
        bars.append(
            Bar(label, value, fmt.format(value), round(x, 1), round(y, 1), round(slot * 0.8, 1), round(height, 1))
        )
    return BarChart(name=name, bars=tuple(bars))
