"""Draws a `Trend` as a PNG for a phone screen: stacked bars per day, large type, labels in
the reader's language (matplotlib, Agg backend, no display).

Drawing is CPU work: callers run `draw_trend` on a thread (`render_trend`), never on the event
loop. Fonts: DejaVu Sans (matplotlib's own: Latin and Cyrillic) with IPAexGothic (from the
matplotlib-fontja package) for Japanese, so no system font is needed.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bot.i18n import texts
from bot.insights.trends import Trend, day_label, series_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

WIDTH, HEIGHT, DPI = 1200, 700, 100  # pixels of the PNG
LEFT, EDGE = 0.09, 4  # the axes' left margin (fraction of the width); the least room left of it
FONT_SIZE = 20
MAX_TITLE = 30  # characters of a topic's title in the chart's title
MAX_LABEL = 30  # characters of a series' label in the legend (outlets' feed titles are long)
LANG_COLOURS = {"ru": "#d62728", "ja": "#1f77b4", "en": "#2ca02c", "other": "#9e9e9e"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
OTHER = "#9e9e9e"
MAX_CHARTS = 8  # chart requests read, counted or drawn at once; more are told to come back
_lock = threading.Lock()  # matplotlib's font cache and rcParams are not thread-safe
# charts are drawn one at a time (the lock): on a thread of their own, so charts waiting for
# it never hold the threads of asyncio.to_thread that the rest of the daemon works on
_drawer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charts")


@functools.cache
def _setup() -> str | None:
    """Load matplotlib with the Agg backend and the fonts; the Japanese font's name or None."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    # a bold title looks for a bold face in every family of the list, IPAexGothic has none,
    # and each miss would log a warning
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

    families = ["DejaVu Sans"]
    japanese = None
    try:
        import matplotlib_fontja

        font_manager.fontManager.addfont(matplotlib_fontja.get_font_ttf_path())
        japanese = font_manager.FontProperties(
            fname=matplotlib_fontja.get_font_ttf_path()
        ).get_name()
        families.append(japanese)
    except (ImportError, OSError, RuntimeError) as exc:  # Japanese shows as boxes, nothing fails
        log.warning("no Japanese font for charts (%s); Japanese labels will not render", exc)
    matplotlib.rcParams.update(
        {
            "font.family": families,
            "font.size": FONT_SIZE,
            "axes.titlesize": FONT_SIZE + 4,
            "axes.labelsize": FONT_SIZE,
            "xtick.labelsize": FONT_SIZE - 2,
            "ytick.labelsize": FONT_SIZE - 2,
            "legend.fontsize": FONT_SIZE - 2,
            "svg.fonttype": "none",
            # labels are names from the config and the feeds: a "$" is a dollar sign, not
            # math markup ("$^$" in an outlet's title raised, "$5 to $10" lost its signs)
            "text.parse_math": False,
        }
    )
    return japanese


@functools.cache
def _glyphs() -> frozenset[int]:
    """The characters some chart font draws (called under the lock, as drawing is)."""
    _setup()
    import matplotlib
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    codes: set[int] = set()
    for family in matplotlib.rcParams["font.family"]:
        path = font_manager.findfont(font_manager.FontProperties(family=family))
        codes.update(FT2Font(path).get_charmap())
    return frozenset(codes)


def drawable(text: str) -> str:
    """`text` without the characters no chart font has (an emoji in a topic's or a feed's
    title would be drawn as a box), or as it is if nothing else is left."""
    glyphs = _glyphs()
    kept = " ".join("".join(c for c in text if ord(c) in glyphs or c.isspace()).split())
    return kept or text


def visual(text: str) -> str:
    """`text` in the order its characters are seen: matplotlib draws them left to right as
    stored, so a Hebrew or Arabic title came out backwards, and Arabic letters unjoined
    (shaped by arabic-reshaper, ordered by python-bidi's Unicode algorithm: its Python one,
    which mirrors brackets as the Rust one does not). Applied last, to the text cut to fit,
    so a cut keeps a title's beginning as it is read."""
    if not any(unicodedata.bidirectional(c) in ("R", "AL") for c in text):
        return text
    import arabic_reshaper
    from bidi.algorithm import get_display

    return str(get_display(arabic_reshaper.reshape(text)))


def fonts() -> list[str]:
    """The font families charts use, in fallback order."""
    with _lock:
        _setup()
        import matplotlib

        return list(matplotlib.rcParams["font.family"])


def _colours(trend: Trend) -> list[str]:
    if trend.by == "lang":
        return [LANG_COLOURS.get(key, OTHER) for key, _ in trend.series]
    return [
        OTHER if key == "other" else PALETTE[n % len(PALETTE)]
        for n, (key, _) in enumerate(trend.series)
    ]


def legend_label(label: str, most: int = MAX_LABEL) -> str:
    """A series' label cut to `most` characters in its middle: outlets' titles often share
    their start ("Google News - ...") or their end, and the legend must tell them apart."""
    if len(label) <= most:
        return label
    head = (most - 1) // 2
    return label[:head].rstrip() + "…" + label[-(most - 1 - head) :].lstrip()


def _legend(axes: Any, renderer: Any, count: int) -> int:
    """A legend in as many columns (up to 4) as fit the picture's width; its rows."""
    columns = min(4, count)
    while True:
        legend = axes.legend(loc="upper left", frameon=False, ncols=columns)
        if columns == 1 or legend.get_window_extent(renderer).x1 <= WIDTH - 10:
            return -(-count // columns)
        columns -= 1


def _title(
    axes: Any, renderer: Any, words: Callable[[str], str], topic: str, right: float, **kw: Any
) -> None:
    """The chart's title, `words` of the topic, its topic cut until the title ends before
    `right` (the time zone's place: 30 Japanese characters are twice as wide as 30 Latin)."""
    if len(topic) > MAX_TITLE:
        topic = topic[: MAX_TITLE - 1] + "…"
    while True:
        box = axes.set_title(words(topic), loc="left", **kw).get_window_extent(renderer)
        if box.x1 <= right or len(topic) <= 2:
            return
        # in proportion to the room, and by one character at least
        keep = min(len(topic) - 2, int(len(topic) * (right - box.x0) / (box.x1 - box.x0)))
        topic = topic[: max(1, keep)].rstrip() + "…"


def _figure(
    trend: Trend, *, title: str, lang: str, titles: dict[str, str], left: float = LEFT
) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    # fixed margins rather than a layout engine: the labels' room is known (a third of the
    # time of a chart went to constrained layout)
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    figure.subplots_adjust(left=left, right=0.96, top=0.9, bottom=0.09)
    renderer = FigureCanvasAgg(figure).get_renderer()  # type: ignore[no-untyped-call]
    axes = figure.add_subplot()
    zone = axes.text(
        1.0, 1.01, trend.tz_name, transform=axes.transAxes, ha="right", va="bottom", alpha=0.6
    )
    positions = list(range(len(trend.days)))
    bottom = [0] * len(trend.days)
    half = 0.4 if len(trend.days) <= 31 else 0.42
    for (key, counts), colour in zip(trend.series, _colours(trend), strict=True):
        # one collection of rectangles per series, not a patch per bar: 90 days of 6 series
        # were 540 artists, most of the drawing time
        boxes = [
            [(x - half, b), (x - half, b + c), (x + half, b + c), (x + half, b)]
            for x, b, c in zip(positions, bottom, counts, strict=True)
            if c
        ]
        axes.add_collection(
            PolyCollection(
                boxes,
                facecolors=colour,
                linewidths=0,
                label=visual(legend_label(drawable(series_label(key, trend, lang, titles)))),
            ),
            autolim=False,
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    tr = texts(lang)
    _title(
        axes,
        renderer,
        lambda topic: tr._("{topic}: stories per day", topic=visual(topic)),
        drawable(title),
        zone.get_window_extent(renderer).x0 - 15,
        # IPAexGothic has no bold face: Japanese titles stay regular rather than fall back
        fontweight="normal" if lang == "ja" else "bold",
    )
    # Translators: the label of a chart's vertical axis (a number of stories)
    axes.set_ylabel(tr._("stories"))
    step = max(1, round(len(trend.days) / 7))
    ticks = positions[::-1][::step][::-1]  # always label the last day (today)
    axes.set_xticks(ticks, [day_label(trend.days[n], lang, short=True) for n in ticks])
    axes.set_xlim(-0.6, len(trend.days) - 0.4)
    # whole stories, written as the reader's language writes them ("1,500"; Russian "1 500")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda count, _: tr.number(count)))
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    legend_rows = _legend(axes, renderer, len(trend.series)) if trend.series else 0
    axes.set_ylim(0, max(3, *bottom) * (1.05 + 0.13 * legend_rows))  # room for the legend
    if not trend.series:
        axes.text(
            0.5,
            0.5,
            tr._("No stories in this period."),
            transform=axes.transAxes,
            ha="center",
            va="center",
        )
    box = axes.yaxis.get_tightbbox(renderer)
    spill = 0.0 if box is None else EDGE - box.x0
    if spill > 0 and left == LEFT:  # five-digit counts: the axis label left the picture
        return _figure(trend, title=title, lang=lang, titles=titles, left=left + spill / WIDTH)
    return figure


def draw_trend(
    trend: Trend, *, title: str, lang: str = "en", titles: dict[str, str] | None = None
) -> bytes:
    """The chart as PNG bytes, WIDTH × HEIGHT pixels. Blocking: call it on a thread."""
    with _lock:
        _setup()
        figure = _figure(trend, title=title, lang=lang, titles=titles or {})
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def draw_empty() -> bytes:
    """An empty figure of the same size, saved the same way: the benchmark's baseline."""
    with _lock:
        _setup()
        from matplotlib.figure import Figure

        figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


async def render_trend(trend: Trend, **kwargs: Any) -> bytes:
    """`draw_trend` on the charts' thread, so the event loop goes on meanwhile."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_drawer, functools.partial(draw_trend, trend, **kwargs))
