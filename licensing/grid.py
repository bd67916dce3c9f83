"""The avails grid: territory x medium availability of one title, drawn as an SVG.

Rows are the UN M.49 sub-regions grouped by continent (a region row can be opened into
its countries), columns the media leaves, and each cell is a bar split by how many of
the row's countries are free, contested, blocked or not held for the chosen window.
The geometry is computed here; ``licensing/_grid.svg`` only draws it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from licensing import domain, reference
from licensing.present import day, media_label, reason_text, status_label, territory_label
from marketplace.i18n import _, ngettext

ORDER = ("free", "contested", "blocked", "not_held")
COLOURS = {"free": "#1f9d63", "contested": "#e5a000", "blocked": "#c62828",
           "not_held": "#c9ced6"}
LABEL_W, COL_W, ROW_H, HEAD_H, GROUP_H, LEGEND_H = 210, 74, 24, 46, 24, 40


@dataclass(frozen=True)
class Rect:
    x: float
    width: float
    colour: str


@dataclass
class Cell:
    x: float
    rects: list[Rect]
    tooltip: str


@dataclass
class Row:
    code: str
    label: str
    y: float
    kind: str  # "group" (a continent heading), "region" or "country"
    cells: list[Cell] = field(default_factory=list)
    expanded: bool = False


@dataclass
class Grid:
    width: int
    height: int
    columns: list[tuple[str, str, float]]  # (code, label, x centre)
    rows: list[Row]
    legend: list[tuple[str, str, str, float]]  # (status, label, colour, x)
    legend_y: float
    counts: dict[str, int]  # (country, medium) cells per status


def _layout() -> list[tuple[str, str]]:
    """(kind, code) rows in M.49 order: a heading per continent, then its sub-regions."""
    out: list[tuple[str, str]] = []

    def walk(code: str, depth: int) -> None:
        region = reference.REGIONS[code]
        if all(m not in reference.REGIONS for m in region.members):
            out.append(("region", code))
            return
        if depth == 1:
            out.append(("group", code))
        for member in region.members:
            if member in reference.REGIONS:
                walk(member, depth + 1)
            else:
                out.append(("country", member))  # Antarctica sits right under the World

    walk("001", 0)
    return out


ROWS = _layout()


def _cell_status(answer: domain.Answer, visible: Callable[[str | None], bool]
                 ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], list[str]]]:
    """The worst status of each (country, medium) over the window and languages, and why."""
    severity = {s.value: s.severity for s in domain.Availability}
    status: dict[tuple[str, str], str] = {}
    why: dict[tuple[str, str], list[str]] = {}
    for part in answer.parts:
        value = part.status.value
        texts = []
        if part.status is not domain.Availability.FREE:
            for reason in part.reasons:
                text = reason_text(reason, visible(reason.grant_id))
                if part.end is not None and part.end != answer.request.end:
                    text += " " + _("until %(date)s", date=day(part.end))
                texts.append(text)
        for country in part.territories:
            for medium in part.media:
                key = (country, medium)
                if key not in status or severity[value] > severity[status[key]]:
                    status[key] = value
                if texts:
                    seen = why.setdefault(key, [])
                    seen.extend(t for t in texts if t not in seen)
    return status, why


def build_grid(answer: domain.Answer, *, expand: str | None = None,
               visible: Callable[[str | None], bool] = lambda _gid: False) -> Grid:
    """Lay out the grid for an answer over World x all media."""
    status, why = _cell_status(answer, visible)
    leaves = list(reference.MEDIA_LEAVES)
    rows: list[Row] = []
    y = HEAD_H
    for kind, code in ROWS:
        if kind == "group":
            rows.append(Row(code, territory_label(code), y, "group"))
            y += GROUP_H
            continue
        countries = ([code] if kind == "country"
                     else sorted(reference.expand_territory(code)))
        row = Row(code, territory_label(code), y, kind, expanded=(code == expand))
        for i, medium in enumerate(leaves):
            row.cells.append(_cell(LABEL_W + i * COL_W, countries, medium, row.label,
                                   status, why))
        rows.append(row)
        y += ROW_H
        if code == expand and kind == "region":
            for country in countries:
                sub = Row(country, territory_label(country), y, "country")
                for i, medium in enumerate(leaves):
                    sub.cells.append(_cell(LABEL_W + i * COL_W, [country], medium, sub.label,
                                           status, why))
                rows.append(sub)
                y += ROW_H
    width = LABEL_W + COL_W * len(leaves)
    legend = [(s, status_label(s), COLOURS[s], 8 + i * (width - 16) / 4)
              for i, s in enumerate(ORDER)]
    counts = {s: 0 for s in ORDER}
    for value in status.values():
        counts[value] += 1
    columns = [(m, media_label(m), LABEL_W + i * COL_W + COL_W / 2)
               for i, m in enumerate(leaves)]
    return Grid(width=width, height=int(y + LEGEND_H), columns=columns, rows=rows,
                legend=legend, legend_y=y + 14, counts=counts)


def _cell(x: float, countries: list[str], medium: str, row_label: str,
          status: dict[tuple[str, str], str], why: dict[tuple[str, str], list[str]]) -> Cell:
    by_status: dict[str, list[str]] = {s: [] for s in ORDER}
    for country in countries:
        by_status[status.get((country, medium), "not_held")].append(country)
    inner = COL_W - 6
    rects, offset = [], x + 3
    for s in ORDER:
        n = len(by_status[s])
        if n:
            w = inner * n / len(countries)
            rects.append(Rect(offset, w, COLOURS[s]))
            offset += w
    lines = [f"{row_label} · {media_label(medium)}"]
    for s in ORDER:
        members = by_status[s]
        if not members:
            continue
        if len(countries) == 1:
            line = status_label(s)
        elif len(members) <= 6:
            line = f"{status_label(s)}: " + ", ".join(territory_label(c) for c in members)
        else:
            line = f"{status_label(s)}: " + ngettext("%(num)d country", "%(num)d countries",
                                                     len(members))
        reasons = []
        for c in members[:6]:
            reasons.extend(r for r in why.get((c, medium), []) if r not in reasons)
        if reasons:
            line += " — " + "; ".join(reasons[:3])
        lines.append(line)
    return Cell(x, rects, "\n".join(lines))
