"""Charts drawn on the server as SVG (pygal), inline in the page and the board PDF.

No script: pygal links its tooltip script from a public CDN by default, which neither the
page's content security nor the PDF's URL fetcher would allow; the SVG stands alone.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pygal
from pygal.style import Style

if TYPE_CHECKING:
    from .practice import DrillTimes

STYLE = Style(
    background="white",
    plot_background="white",
    font_family="DejaVu Sans, sans-serif",
    colors=("#417690", "#b58900", "#ba2121", "#2a9d8f", "#6c757d"),
    # Read at half a page's width in the board PDF: larger than pygal's defaults.
    title_font_size=20,
    label_font_size=15,
    major_label_font_size=15,
    legend_font_size=16,
)


def _config(**extra: Any) -> dict[str, Any]:
    return {
        "style": STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "width": 720,
        "height": 300,
        "legend_at_bottom": True,
        "print_values": False,
        "show_y_guides": False,
        **extra,
    }


def drills_chart(*, drills: "Sequence[DrillTimes]", steps: list[str]) -> str:
    """Hours from awareness to each step, one group of bars per drill."""
    chart = pygal.Bar(**_config(title="Hours from awareness, per drill", y_title="hours"))
    chart.x_labels = [d.title for d in drills]
    for step in steps:
        values = []
        for d in drills:
            delta = d.steps[step]
            values.append(None if delta is None else round(delta.total_seconds() / 3600, 2))
        chart.add(f"to {step}", values)
    return str(chart.render(is_unicode=True))


def trend_chart(*, days: list[str], series: dict[str, list[float | None]]) -> str:
    """Readiness over time: each series is a percentage per day."""
    chart = pygal.Line(
        **_config(title="Readiness over time", y_title="%", range=(0, 100), x_label_rotation=30)
    )
    chart.x_labels = days
    for name, values in series.items():
        chart.add(name, values)
    return str(chart.render(is_unicode=True))
