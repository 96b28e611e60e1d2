"""Plots drawn on the server as inline SVG.

Why not a vendored JavaScript library: the dashboards' plots are bar charts of a few dozen marks whose data the
view already holds, so SVG from a template costs no asset, no script and no second request, renders before any
JavaScript runs, is covered by page tests without a browser, and is readable without colour: every bar carries its
value as text and a <title>, and the chart has a role="img" with a label and a table fallback in the page.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT = 480, 200
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_SIDE = 18, 34, 8
STEP_MARGIN_SIDE = 40  # room for a point's time label, centred on the first and last points


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
    template: str = "web/charts/_bar_chart.html"
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


@dataclass(frozen=True)
class StepChart:
    """A value over time drawn as steps: x is proportional to the time, so uneven gaps between points show as such
    (bars, evenly spaced, would hide them); each point is a .mark with its value and time written beside it."""

    name: str
    bars: tuple[Bar, ...]  # one per point: x, y the point, width 0; read like the bar chart's by the tests
    path: str  # the SVG path of the steps
    template: str = "web/charts/_step_chart.html"
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def baseline(self) -> int:
        return self.height - MARGIN_BOTTOM

    @property
    def label_y(self) -> int:
        return self.baseline + 16


def step_chart(name: str, data: Sequence[tuple[datetime, float]], *, fmt: str = "{:g}") -> StepChart:
    """One point per (time, value), in time order, joined by horizontal-then-vertical steps (the value held until
    the next reading, as a counter is); times on a linear axis from the first to the last point."""
    top = max((value for _, value in data), default=0) or 1
    start = data[0][0] if data else None
    span = (data[-1][0] - data[0][0]).total_seconds() if data else 0
    plot_width, plot_height = WIDTH - 2 * STEP_MARGIN_SIDE, HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    points = []
    for when, value in data:
        offset = (when - start).total_seconds() / span if start is not None and span else 0.5
        x = round(STEP_MARGIN_SIDE + plot_width * offset, 1)
        y = round(HEIGHT - MARGIN_BOTTOM - plot_height * value / top, 1)
        points.append(
            Bar(f"{when:%m-%d %H:%M}", value, fmt.format(value), x, y, 0, round(plot_height * value / top, 1))
        )
    steps = [f"M{points[0].x},{points[0].y}"] if points else []
    steps += [f"H{point.x}V{point.y}" for point in points[1:]]
    return StepChart(name=name, bars=tuple(points), path="".join(steps))
