"""Charts drawn on the server as SVG: nothing for a browser to fetch, no script to run."""

from collections.abc import Sequence
from datetime import datetime

from django.utils.html import escape

WIDTH, HEIGHT = 640, 200
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 40, 24, 10


def bar_chart(
    bars: Sequence[tuple[datetime, int]], *, title: str, label_format: str = "%H:%M"
) -> str:
    """An <svg> of one bar per (start, count), the count's scale on the left and a few starts
    below; `title` names it for screen readers. An empty series draws an empty frame."""
    plot_width = WIDTH - MARGIN_LEFT - 10
    plot_height = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    top = max((count for _, count in bars), default=0) or 1
    step = plot_width / max(len(bars), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP + plot_height}" x2="{WIDTH - 10}" '
        f'y2="{MARGIN_TOP + plot_height}" stroke="#999"/>',
        f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + 10}" text-anchor="end" '
        f'font-size="11">{top}</text>',
        f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + plot_height}" text-anchor="end" '
        f'font-size="11">0</text>',
    ]
    # About eight labels below, whatever the number of bars.
    every = max(len(bars) // 8, 1)
    for index, (start, count) in enumerate(bars):
        height = plot_height * count / top
        x = MARGIN_LEFT + index * step
        y = MARGIN_TOP + plot_height - height
        parts.append(
            f'<rect class="bar" x="{x + step * 0.1:.1f}" y="{y:.1f}" '
            f'width="{step * 0.8:.1f}" height="{height:.1f}" fill="#417690">'
            f"<title>{start:{label_format}}: {count}</title></rect>"
        )
        if index % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                f'font-size="11">{start:{label_format}}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
