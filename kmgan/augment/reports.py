"""Reports of the sweep: CSV, Markdown and JSON tables, the accuracy plot, sample grids."""

import csv
import math
import os

import numpy as np

from kmgan import io as kio
from kmgan.augment.mixing import as_fraction
from kmgan.augment.mixing import round_half_up
from kmgan.augment.quality import SCORE_COLUMNS

__all__ = [
    "GEN_METRIC_COLUMNS",
    "RESULT_COLUMNS",
    "class_grid",
    "plot_accuracy",
    "write_results",
]


RESULT_COLUMNS = (
    "method",
    "kind",
    "real_fraction",
    "generated_ratio",
    "seed",
    "n_real",
    "n_generated",
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "epochs",
    "train_steps",
    "train_seconds",
    "kept_fraction",
    "aux_accuracy",
)


GEN_METRIC_COLUMNS = ("method", "real_fraction", "class", "n", *SCORE_COLUMNS, "ms_ssim")


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) else v
    return value


def _times(v, factor):
    return None if v is None else v * factor


def _fmt(v, digits=4):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _mean_std(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values)) if len(values) > 1 else 0.0


def _cell(values, digits=4):
    m, s = _mean_std(values)
    if math.isnan(m):
        return "·"
    return f"{m:.{digits}f}" if len(values) < 2 else f"{m:.{digits}f} ± {s:.{digits}f}"


def _write_csv(path, rows, columns):
    """Writes `rows` (dicts) as CSV with `columns`; floats to 6 decimals, missing cells empty."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: _fmt(row.get(k), 6) if isinstance(row.get(k), float) else row.get(k, "")
                    for k in columns
                }
            )


def write_results(rows, out_dir, gen_metrics=None, filter_reports=None, title=None, notes=()):
    """Writes ``results.csv``, ``results.md``, ``results.json`` and the plot.

    Args:
        rows: result rows of :func:`run_sweep`.
        out_dir: output folder (created).
        gen_metrics: rows of generative-model metrics (``method`` added).
        filter_reports: confidence-filter reports of the unlabelled methods.
        title: heading of the Markdown file.
        notes: extra lines for the Markdown file (e.g. skipped methods).

    Returns:
        dict of the written paths (``csv``, ``md``, ``json``, ``plot``).
    """
    os.makedirs(out_dir, exist_ok=True)
    gen_metrics = gen_metrics or []
    filter_reports = filter_reports or []
    csv_path = os.path.join(out_dir, "results.csv")
    _write_csv(csv_path, rows, RESULT_COLUMNS)
    if gen_metrics:
        _write_csv(os.path.join(out_dir, "generative_metrics.csv"), gen_metrics, GEN_METRIC_COLUMNS)
    json_path = os.path.join(out_dir, "results.json")
    kio.atomic_write_json(
        json_path,
        _jsonable(
            {"runs": rows, "generative_metrics": gen_metrics, "filter_reports": filter_reports}
        ),
    )
    md_path = os.path.join(out_dir, "results.md")
    with open(md_path, "w") as f:
        f.write(_markdown(rows, gen_metrics, filter_reports, title, notes))
    plot_path = os.path.join(out_dir, "accuracy_vs_ratio.png")
    plot_accuracy(rows, plot_path)
    return {"csv": csv_path, "md": md_path, "json": json_path, "plot": plot_path}


def _methods_in_order(rows):
    seen = []
    for row in rows:
        if row["method"] not in seen:
            seen.append(row["method"])
    return seen


def _markdown(rows, gen_metrics, filter_reports, title, notes):
    lines = [f"# {title or 'Generative data augmentation'}", ""]
    seeds = sorted({r["seed"] for r in rows})
    lines.append(
        "Classifier accuracy and macro F1 on the real test split, mean ± std over "
        f"{len(seeds)} seed(s) {seeds}. Columns: generated images added per real image "
        "kept. Baselines and traditional augmentation add none (their value sits in the "
        "0× column); generative methods at 0× are the `none` baseline."
    )
    lines.append("")
    lines += [f"- {n}" for n in notes]
    if notes:
        lines.append("")
    fractions_ = sorted({r["real_fraction"] for r in rows}, reverse=True)
    ratios = sorted({r["generated_ratio"] for r in rows} | {0.0})
    methods = _methods_in_order(rows)
    short = False
    for metric in ("accuracy", "f1_macro"):
        for frac in fractions_:
            sub = [r for r in rows if r["real_fraction"] == frac]
            n_real = sorted({r["n_real"] for r in sub})
            lines.append(
                f"## {metric} — real fraction {frac:g} (n_real = "
                f"{', '.join(str(n) for n in n_real)})"
            )
            lines.append("")
            lines.append("| method | kind | " + " | ".join(f"{g:g}×" for g in ratios) + " |")
            lines.append("| --- | --- | " + " | ".join("---:" for _ in ratios) + " |")
            for m in methods:
                mrows = [r for r in sub if r["method"] == m]
                if not mrows:
                    continue
                cells = []
                for g in ratios:
                    at = [r for r in mrows if r["generated_ratio"] == g]
                    cell = _cell([r[metric] for r in at])
                    if any(
                        r["n_generated"] < round_half_up(as_fraction(g, "ratio") * r["n_real"])
                        for r in at
                    ):
                        cell += " †"
                        short = True
                    cells.append(cell)
                lines.append(f"| {m} | {mrows[0]['kind']} | " + " | ".join(cells) + " |")
            lines.append("")
    if short:
        lines.append(
            "† fewer generated images than the ratio asks for: the confidence filter "
            "kept too few samples of some classes (see `n_generated` below and the "
            "filter table)."
        )
        lines.append("")
    if filter_reports:
        lines.append("## Confidence filter (unlabelled generators)")
        lines.append("")
        lines.append(
            "| method | real fraction | seed | aux. classifier accuracy | drawn | "
            "kept | kept % | kept per class | shortfall per class |"
        )
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
        for rep in filter_reports:
            lines.append(
                f"| {rep['method']} | {rep['real_fraction']:g} | {rep['seed']} | "
                f"{_fmt(rep.get('aux_accuracy'))} | {rep['num_drawn']} | {rep['num_kept']} | "
                f"{100 * rep['kept_fraction']:.1f} | {list(map(int, rep['kept_per_class']))} | "
                f"{list(map(int, rep['shortfall_per_class']))} |"
            )
        lines.append("")
    if gen_metrics:
        lines.append("## Generative models: per-class quality and diversity")
        lines.append("")
        lines.append(
            "FID, KID (x 1e3), precision and recall (k 3), density and coverage (k 5) "
            "against the real images of the class; IS where the feature network has a "
            "classifier head; lower MS-SSIM means more diverse (compare with the `real "
            "data` rows). Feature scores are empty when no feature network was given."
        )
        lines.append("")
        lines.append(
            "| method | real fraction | class | n | FID | KID x 1e3 | precision | recall | "
            "density | coverage | IS | MS-SSIM |"
        )
        lines.append(
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        )
        for row in gen_metrics:
            is_cell = _fmt(row.get("inception_score"), 3)
            if is_cell and _fmt(row.get("inception_score_std")):
                is_cell += f" ± {row['inception_score_std']:.3f}"
            kid_cell = _fmt(_times(row.get("kid"), 1e3), 2)
            if kid_cell and _fmt(row.get("kid_std")):
                kid_cell += f" ± {1e3 * row['kid_std']:.2f}"
            shares = " | ".join(
                _fmt(row.get(k), 3) for k in ("precision", "recall", "density", "coverage")
            )
            lines.append(
                f"| {row['method']} | {_fmt(row.get('real_fraction'), 2)} | {row['class']} | "
                f"{row['n']} | "
                f"{_fmt(row.get('fid'), 2)} | {kid_cell} | {shares} | {is_cell} | "
                f"{_fmt(row.get('ms_ssim'), 4)} |"
            )
        lines.append("")
    lines.append("## All runs")
    lines.append("")
    cols = RESULT_COLUMNS[:7] + ("train_steps",) + RESULT_COLUMNS[7:11]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("| " + " | ".join("---" for _ in cols) + " |")
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    lines.append("")
    return "\n".join(lines)


def plot_accuracy(rows, path, metric="accuracy"):
    """Plots a metric against the generated ratio, one line per method.

    One panel per real fraction. Generative methods are lines through their
    ratios (starting at the ``none`` baseline at 0×, when present);
    baselines and traditional augmentation, which add no generated images,
    are horizontal dashed lines. Error bars: std over seeds.

    Args:
        rows: result rows of :func:`run_sweep`.
        path: PNG file to write.
        metric: row key to plot.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fractions_ = sorted({r["real_fraction"] for r in rows}, reverse=True)
    ratios = sorted({r["generated_ratio"] for r in rows} | {0.0})
    methods = _methods_in_order(rows)
    fig, axes = plt.subplots(
        1, max(1, len(fractions_)), figsize=(5 * max(1, len(fractions_)), 4), squeeze=False
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, frac in zip(axes[0], fractions_):
        sub = [r for r in rows if r["real_fraction"] == frac]
        base = [r[metric] for r in sub if r["method"] == "none" or r["kind"] == "baseline"]
        for i, m in enumerate(methods):
            mrows = [r for r in sub if r["method"] == m]
            if not mrows:
                continue
            color = colors[i % len(colors)]
            if mrows[0]["kind"] in ("baseline", "traditional"):
                mean, std = _mean_std([r[metric] for r in mrows])
                ax.axhline(mean, ls="--", color=color, label=m)
                if std > 0:
                    ax.axhspan(mean - std, mean + std, color=color, alpha=0.1)
                continue
            xs, ys, es = [], [], []
            if base and not any(r["generated_ratio"] == 0 for r in mrows):
                mean, std = _mean_std(base)
                xs.append(0.0), ys.append(mean), es.append(std)
            for g in sorted({r["generated_ratio"] for r in mrows}):
                mean, std = _mean_std([r[metric] for r in mrows if r["generated_ratio"] == g])
                xs.append(g), ys.append(mean), es.append(std)
            ax.errorbar(xs, ys, yerr=es, marker="o", color=color, label=m, capsize=3)
        ax.set_title(f"real fraction {frac:g}")
        ax.set_xlabel("generated images per real image")
        ax.set_ylabel(metric)
        ax.set_xticks(ratios)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def class_grid(x, y, path, per_class=8):
    from kmgan.callbacks import save_image_grid

    classes = [c for c in np.unique(y)]
    n = min([per_class] + [int(np.sum(y == c)) for c in classes]) if classes else 0
    if n < 1:
        return None
    picked = np.concatenate([x[y == c][:n] for c in classes])
    save_image_grid(picked, path, rows=len(classes))
    return path
