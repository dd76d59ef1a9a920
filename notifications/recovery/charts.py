"""The cohort figures as SVG charts drawn on the server by pygal: one chart per response,
affected against unaffected, week by week. No script, so the SVG stands alone in the page
(content security) and in the PDF (WeasyPrint's URL fetcher)."""

import re

import pygal
from pygal.style import Style

from .cohorts import AFFECTED, METRICS, UNAFFECTED, Cohorts

SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)

CHART_STYLE = Style(
    background="white",
    plot_background="white",
    font_family="DejaVu Sans, sans-serif",
    colors=("#ba2121", "#417690"),
    title_font_size=18,
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
)


def cohort_charts(*, cohorts: Cohorts) -> list[tuple[str, str]]:
    """(label, SVG) per response: the share of each cohort, in percent, per week."""
    charts = []
    for metric, label in METRICS.items():
        chart = pygal.Line(
            style=CHART_STYLE,
            js=[],
            disable_xml_declaration=True,
            width=480,
            height=270,
            title=f"{label}, % of each cohort",
            x_title="weeks since the notice",
            legend_at_bottom=True,
            show_y_guides=True,
            min_scale=3,
            max_scale=5,
            include_x_axis=True,
            value_formatter=lambda v: f"{v:.2f} %",
        )
        chart.x_labels = [str(week) for week in range(cohorts.weeks)]
        for cohort, name in ((AFFECTED, "affected"), (UNAFFECTED, "unaffected")):
            size = cohorts.size[cohort]
            chart.add(
                f"{name} ({size:,})",
                [cohorts.rate(cohort, metric, week) for week in range(cohorts.weeks)],
            )
        # pygal writes its tooltip configuration as an inline script even without its
        # tooltip script; the page's content security would refuse it, so it goes.
        svg = SCRIPT.sub("", str(chart.render(is_unicode=True)))
        charts.append((label, svg))
    return charts
