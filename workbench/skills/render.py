"""Report files: a self-contained interactive HTML page, PNG heatmaps (matplotlib, Agg) and CSV tables.

The HTML report inlines its CSS, JavaScript and data (no CDN, no external URL of any kind), so it opens offline
and can be mailed as one file. The JavaScript draws the heatmaps as SVG from the embedded JSON; hovering a cell
shows its numbers, clicking it opens the evidence behind it (event ids, runs, scores). The same drawing code
(``static/heatmap.js``) serves the manager widget.
"""

from __future__ import annotations

import html
import json
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.skills.payload import people_rows, report_payload, team_rows
from workbench.skills.report_data import ALL, ReportData


def static_text(name: str) -> str:
    """A file from ``workbench/skills/static`` (the report's CSS and JavaScript)."""
    return resources.files("workbench.skills").joinpath("static", name).read_text(encoding="utf-8")


# -- HTML ------------------------------------------------------------------------------------------------
def render_html(report: ReportData, *, max_people: int = 250, max_teams: int = 100) -> str:
    """The self-contained interactive HTML report (inline CSS, JavaScript and data; no external resource)."""
    payload = report_payload(report, max_people=max_people, max_teams=max_teams)
    data = json.dumps(payload, separators=(",", ":"), default=str, allow_nan=False)
    # Inside <script>, "</script", "<!--" and "<script" change how the HTML parser reads the element: escape
    # every "<" (and ">", "&") as a JSON unicode escape, which JSON.parse turns back into the character. "/" too:
    # the data holds URIs (ESCO skill ids) that are identifiers, not links, and the page keeps no "http://"
    # string anything could mistake for a resource to fetch.
    data = (data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("/", "\\u002f"))
    title = html.escape(report.title)
    css = static_text("report.css")
    js = static_text("heatmap.js") + "\n" + static_text("report.js")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<noscript><p class="wb-noscript">This report draws its heatmaps with JavaScript; the CSV files next to it hold the same data.</p></noscript>
<div id="wb-report" class="wb-report"></div>
<script type="application/json" id="wb-data">{data}</script>
<script>{js}
WorkbenchReport.mount(document.getElementById("wb-report"), JSON.parse(document.getElementById("wb-data").textContent));
</script>
</body>
</html>
"""


# -- PNG -------------------------------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def write_pngs(report: ReportData, out_dir: Path, *, max_people: int = 60, max_teams: int = 60
               ) -> dict[str, Path]:
    """Heatmap PNGs (teams, people) and a trends chart."""
    plt = _pyplot()
    from matplotlib.colors import LinearSegmentedColormap

    paths: dict[str, Path] = {}
    skills = report.taxonomy.skill_ids
    names = [report.taxonomy.skill(s).name for s in skills]
    cmap = LinearSegmentedColormap.from_list("wb_level", ["#f7fbff", "#6baed6", "#08306b"]).with_extremes(bad="#eeeeee")

    def heatmap(matrix: np.ndarray, row_labels: list[str], title: str, path: Path, note: str | None) -> None:
        # Fixed margins in inches instead of tight_layout (which draws the figure twice: slow for big grids).
        label_in = 0.075 * max((len(r) for r in row_labels), default=8) + 0.3
        top_in, bottom_in = 0.45, 0.062 * max(len(n) for n in names) + 0.35
        cell_w, cell_h = 0.34, 0.22
        width = label_in + cell_w * len(skills) + 1.3
        height = top_in + bottom_in + cell_h * max(1, len(row_labels))
        fig = plt.figure(figsize=(width, height), dpi=100)
        ax = fig.add_axes((label_in / width, bottom_in / height, cell_w * len(skills) / width,
                           cell_h * max(1, len(row_labels)) / height))
        cax = fig.add_axes(((width - 0.9) / width, bottom_in / height, 0.12 / width,
                            cell_h * max(1, len(row_labels)) / height))
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=0, vmax=4, aspect="auto",
                          interpolation="nearest")
        ax.set_xticks(range(len(skills)), labels=names, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(row_labels)), labels=row_labels, fontsize=7)
        if matrix.size <= 600:
            for (i, j), v in np.ndenumerate(matrix):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=6,
                            color="white" if v > 2.4 else "#222222")
        ax.set_title(title, fontsize=9)
        fig.colorbar(image, cax=cax, label="level (0-4)")
        if note:
            fig.text(0.01, 0.005, note, fontsize=6, color="#555555")
        fig.savefig(path)
        plt.close(fig)

    if report.scope != "learner" and not report.teams.empty:
        trows, _ = team_rows(report, max_teams)
        matrix = report.matrix("teams", "level").reindex(index=trows).to_numpy(dtype=float)
        hidden = set(report.suppressed_teams)
        labels = [("everyone" if t == ALL else t) + ("  [suppressed]" if t in hidden else "") for t in trows]
        path = out_dir / "heatmap_teams.png"
        heatmap(matrix, labels, f"Team x skills: mean level (grey: no evidence or n<{report.min_group_size})",
                path, None)
        paths["png_teams"] = path
    rows, note = people_rows(report, max_people)
    if rows:
        matrix = report.matrix("people", "level").reindex(index=rows).to_numpy(dtype=float)
        path = out_dir / "heatmap_people.png"
        heatmap(matrix, rows, "People x skills: estimated level", path, note)
        paths["png_people"] = path
    if not report.trends.empty:
        tr = report.trends.dropna(subset=["level"])
        fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
        base = tr.loc[tr["group"] == ALL] if report.scope != "learner" else tr
        overall = base.groupby("period")[["level", "gap"]].mean()
        if not overall.empty:
            ax.plot(overall.index, overall["level"], marker="o", label="mean level", color="#08519c")
            if overall["gap"].notna().any():
                ax.plot(overall.index, overall["gap"], marker="s", label="mean gap to target", color="#cb181d")
        ax.set_ylim(-1, 4)
        ax.set_ylabel("level")
        ax.set_title("Trend across skills, as estimated at each period's end", fontsize=10)
        ax.tick_params(axis="x", rotation=45, labelsize=7)
        if ax.get_legend_handles_labels()[0]:  # no trend lines (an empty period): no empty legend, no warning
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.2)
        path = out_dir / "trends.png"
        fig.savefig(path)
        plt.close(fig)
        paths["png_trends"] = path
    return paths


# -- CSV -------------------------------------------------------------------------------------------------
_CSV_SPECIAL = (",", '"', "\n", "\r")


def _csv_text(value: str) -> str:
    """``value`` quoted for CSV when it needs it (RFC 4180)."""
    if any(ch in value for ch in _CSV_SPECIAL):
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_field(series: pd.Series) -> Any:
    """One column as an Arrow array of CSV field texts (no nulls): ISO 8601 UTC times, floats rounded to 4
    decimals as Python writes them (``1.0``, ``0.1235``), ``True``/``False``, text quoted where it needs it
    (RFC 4180), missing values empty. The formatting runs in Arrow's C++ kernels, not per value in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind == "M":
        values = pa.array(series.to_numpy(dtype="datetime64[us]"), from_pandas=True)  # UTC for tz-aware times
        # Arrow writes "YYYY-MM-DD HH:MM:SS.ffffff" (pandas' times have 4-digit years): the space becomes "T".
        return pc.fill_null(pc.utf8_replace_slice(pc.cast(values, pa.string()), 10, 11, "T"), "")
    if dtype.kind == "f":
        numbers = np.round(series.to_numpy(dtype=float), 4)
        finite = np.isfinite(numbers)
        # Arrow writes the same shortest round-trip digits as Python, but turns to exponents sooner (Python's
        # text is kept where it does) and leaves ".0" off whole numbers.
        text = pc.cast(pa.array(np.where(finite, numbers, 0.0)), pa.string())
        if pc.any(pc.match_substring(text, "e")).as_py():
            return pa.array(np.where(finite, numbers.astype(str), ""))
        whole = pc.match_substring_regex(text, r"^-?[0-9]+$")
        text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
        return pc.if_else(pa.array(finite), text, "")
    if dtype.kind == "b":
        return pc.if_else(pa.array(series.to_numpy()), "True", "False")
    if dtype.kind in "iu":
        return pc.cast(pa.array(series.to_numpy()), pa.string())
    if isinstance(dtype, pd.StringDtype) or all(isinstance(v, str) for v in series.dropna().head(1000)):
        try:
            text = pc.cast(pa.array(series, from_pandas=True), pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text after all
            text = None
        if text is not None:
            special = pc.match_substring_regex(text, '[,"\r\n]')
            if pc.any(special).as_py():
                quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
                text = pc.if_else(special, quoted, text)
            return pc.fill_null(text, "")
    missing = series.isna().to_numpy()
    texts = [_csv_text(v if isinstance(v, str) else str(v)) for v in series.astype(object).tolist()]
    return pa.array(["" if gone else text for gone, text in zip(missing.tolist(), texts, strict=True)],
                    type=pa.string())


def write_csv(frame: pd.DataFrame, path: Path, *, chunk: int = 250_000) -> None:
    """Write ``frame`` as CSV (RFC 4180 quoting; times in UTC as ISO 8601 ``YYYY-MM-DDTHH:MM:SS.ffffff``).

    Fields are formatted column-wise and joined into lines by Apache Arrow's compute kernels (pyarrow, the
    library under pandas' text columns and the PostgreSQL report reads), in C++ rather than a Python string per
    field: the 731,441-row evidence table of ``bench/skills.py`` takes about 1.2 s instead of 2.8 s formatted in
    Python (same bytes), which was itself about five times faster than ``DataFrame.to_csv``. Quoting is
    ``to_csv``'s default: a field is quoted when it holds a comma, a quote or a line break.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    with path.open("wb") as handle:
        handle.write((",".join(_csv_text(str(c)) for c in frame.columns) + "\n").encode("utf-8"))
        if frame.shape[1] == 0:
            return
        for start in range(0, len(frame), chunk):
            part = frame.iloc[start:start + chunk]
            fields = [_csv_field(part[c]) for c in part.columns]
            fields[-1] = pc.binary_join_element_wise(fields[-1], "\n", "")  # each line ends with its newline
            lines = pc.cast(pc.binary_join_element_wise(*fields, ","), pa.large_string())
            if isinstance(lines, pa.ChunkedArray):  # a chunked Arrow-backed column makes the result chunked
                lines = lines.combine_chunks()
            # The lines lie back to back in the array's data buffer: that span is the chunk's text.
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64, count=len(lines) + 1, offset=8 * lines.offset)
            handle.write(memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]])


def write_csvs(report: ReportData, out_dir: Path) -> dict[str, Path]:
    """Every frame as CSV (long form), the wide people x skills level matrix and the skills' public ids (one
    row per skill and id: ``skill_external_ids.csv``). Times are UTC."""
    paths: dict[str, Path] = {}

    def put(name: str, frame: pd.DataFrame) -> None:
        path = out_dir / f"{name}.csv"
        write_csv(frame, path)
        paths[f"csv_{name}"] = path

    put("people_skills", report.people)
    put("people_levels", report.matrix("people", "level").reset_index().rename(columns={"index": "learner"}))
    if report.scope != "learner":
        put("teams_skills", report.teams)
    put("trends", report.trends)
    for name, table in report.outcomes.items():
        put(f"outcomes_by_{name}", table)
    put("evidence", report.evidence)
    # The join table for HR systems: every public id (ESCO, O*NET, Lightcast) of every skill, one per row.
    put("skill_external_ids", pd.DataFrame(report.taxonomy.external_id_rows(),
                                           columns=["skill", "skill_name", "framework", "external_id"]))
    if not report.unknown_skills.empty:
        put("unknown_skills", report.unknown_skills.assign(
            example_event_ids=report.unknown_skills["example_event_ids"].map(" ".join)))
    return paths


def write_report(
    report: ReportData, out_dir: Path, formats: Any, *, max_people: int = 250, max_teams: int = 100
) -> dict[str, Path]:
    """Write the requested formats plus ``report.json`` (the summary) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    # The CSV files are formatted by Arrow's kernels, which release the GIL: written in a thread, they take the
    # second core while this one draws the HTML and the PNGs (Python and matplotlib).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="skills-report-csv") as pool:
        csvs = pool.submit(write_csvs, report, out_dir) if "csv" in formats else None
        if "html" in formats:
            path = out_dir / "report.html"
            path.write_text(render_html(report, max_people=max_people, max_teams=max_teams), encoding="utf-8")
            paths["html"] = path
        if "png" in formats:
            paths.update(write_pngs(report, out_dir, max_people=min(max_people, 60), max_teams=min(max_teams, 60)))
        if csvs is not None:
            paths.update(csvs.result())
    summary = out_dir / "report.json"
    paths["json"] = summary
    report.paths.update(paths)
    summary.write_text(json.dumps(report.summary(), indent=2, default=str), encoding="utf-8")
    return paths
