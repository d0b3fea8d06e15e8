"""The Markdown report.

Throughput, kmgan / PyTorch ratios, multi-player cost ratios and compile
time, naming the device.
"""

import math

from kmgan.io import atomic_write_text
from kmgan.io import read_json

from .config import CPU_SPEEDUP_TARGET
from .config import GMAN_BOUND_SLACK
from .config import GMAN_FAMILIES
from .config import GPU_SPEEDUP_TARGET
from .config import TORCH_FAMILIES
from .config import parse_game
from .device import describe_device

__all__ = [
    "merge",
    "render_markdown",
    "write_text",
]


def _fmt(value, digits=2):
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 10**-digits or abs(value) >= 1e5):
            return f"{value:.{digits}e}"
        return f"{value:.{digits}f}"
    return str(value)


def _jit_text(row):
    if row["impl"] == "torch":
        return "eager"
    return "on" if row.get("jit") else "off"


def _impl_text(row):
    return "PyTorch" if row["impl"] == "torch" else f"kmgan/{row['backend']}"


def _ok(row):
    return row.get("status") == "ok" and row.get("step_s")


#: The columns that name a configuration, first in every table.
CONFIG_COLUMNS = "game | impl | jit | precision | mode"


def _table(header, lines):
    """A Markdown table; `header` is its column names separated by " | "."""
    header = header.split(" | ")
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in line) + " |" for line in lines]
    return "\n".join(out)


def _key(row, **override):
    fields = dict(
        run_backend=row["run_backend"],
        impl=row["impl"],
        backend=row["backend"],
        game=row["game"],
        jit=row.get("jit"),
        precision=row["precision"],
        mode=row["mode"],
    )
    fields.update(override)
    return tuple(sorted(fields.items()))


def _has_gpu(metas):
    return any(m["device"].get("gpus") for m in metas)


def render_markdown(result):
    metas, rows = result["meta"], result["rows"]
    index = {_key(r): r for r in rows}
    lines = ["# kmgan training throughput", ""]
    for meta in metas:
        dev, cfg = meta["device"], meta["config"]
        versions = ", ".join(
            f"{k} {dev[k]}" for k in ("keras", "tensorflow", "jax", "jaxlib", "torch") if dev.get(k)
        )
        lines.append(
            f"- **{dev['backend']} run** ({dev.get('timestamp')}): {describe_device(dev)}. "
            f"{versions}; PyTorch threads {dev.get('torch_threads', '—')}."
        )
    cfg = metas[0]["config"]
    lines += [
        "",
        f"Images {tuple(cfg['image_shape'])}, latent {cfg['latent_dim']}, base_filters "
        f"{cfg['base_filters']}, batch {cfg['batch_size']}; step time = median of "
        f"{cfg['repeats']} timings of {cfg['steps']} steps after {cfg['warmup']} warm-up "
        f"block(s). Adam(2e-4, betas (0.5, 0.999), eps 1e-8) per player. "
        f"`pipeline`: `fit` on a repeated `tf.data` pipeline (PyTorch: a `DataLoader`); "
        f"`device`: the compiled step (`model.train_function`) on a fixed batch already on "
        f"the device (PyTorch: eager steps on a fixed batch). First step: for `pipeline`, "
        f"tracing + compilation + one step of `fit`; for `device`, the loop's first call "
        f"(JAX reuses `fit`'s compiled step). Peak RSS: {metas[0].get('rss_method')}; "
        f"`pipeline` rows include building and compiling the game.",
        "",
        "## Throughput",
        "",
    ]
    body = []
    for r in rows:
        ok = _ok(r)
        body.append(
            [
                r["game"],
                _impl_text(r),
                _jit_text(r),
                r["precision"],
                r["mode"],
                _fmt(r.get("steps_per_s")) if ok else "—",
                _fmt(1000 * r["step_s"], 1) if ok else "—",
                _fmt(r.get("compile_s"), 2) if ok else "—",
                _fmt(r.get("peak_rss_mb"), 0) if ok else "—",
                _fmt(r.get("gpu_peak_mb"), 0) if ok else "—",
                r.get("status", "—"),
            ]
        )
    lines.append(
        _table(
            CONFIG_COLUMNS
            + " | steps/s | ms/step | first step (s) | peak RSS (MB) | GPU peak (MB) | status",
            body,
        )
    )

    # ---- kmgan / PyTorch
    lines += ["", "## kmgan / PyTorch (steps/s ratio; the PyTorch peer of the same run)", ""]
    body, best = [], {}
    for r in rows:
        if (
            r["impl"] != "kmgan"
            or r["family"] not in TORCH_FAMILIES
            or r["mode"] not in ("pipeline", "device")
        ):
            continue
        peer = index.get(_key(r, impl="torch", backend="torch", jit=None))
        if peer is None:
            continue
        if _ok(r) and _ok(peer):
            ratio = r["steps_per_s"] / peer["steps_per_s"]
            text = _fmt(ratio)
            k = (r["game"], r["precision"], r["mode"])
            if k not in best or ratio > best[k][0]:
                best[k] = (ratio, f"{r['backend']}, jit {_jit_text(r)}")
        else:
            text = "— (" + (r.get("status") if not _ok(r) else peer.get("status", "")) + ")"
        body.append(
            [
                r["game"],
                r["backend"],
                _jit_text(r),
                r["precision"],
                r["mode"],
                _fmt(r.get("steps_per_s")) if _ok(r) else "—",
                _fmt(peer.get("steps_per_s")) if _ok(peer) else "—",
                text,
            ]
        )
    if body:
        lines.append(
            _table(
                "game | backend | jit | precision | "
                "mode | kmgan steps/s | PyTorch steps/s | kmgan / PyTorch",
                body,
            )
        )
        target = GPU_SPEEDUP_TARGET if _has_gpu(metas) else CPU_SPEEDUP_TARGET
        where = "GPU" if _has_gpu(metas) else "CPU"
        lines += [
            "",
            f"Target ({where}): kmgan's best configuration at least {target}x the PyTorch "
            "eager step rate for DCGAN and GMAN-5.",
            "",
        ]
        if not best:
            lines.append("- no kmgan / PyTorch pair with both sides measured.")
        for (game, precision, mode), (ratio, how) in sorted(best.items()):
            verdict = "met" if ratio >= target else f"missed by {100 * (1 - ratio / target):.0f}%"
            lines.append(f"- {game}, {precision}, {mode}: best {ratio:.2f}x ({how}): {verdict}")
    else:
        lines.append("No PyTorch rows (torch absent or not run): no ratios.")

    # ---- multi-player cost
    lines += [
        "",
        "## Multi-player cost (step time relative to the GAN step of the same configuration)",
        "",
    ]
    lines.append(
        "GMAN-N: bound = (G + N·D)/(G + D), G and D the forward FLOPs per example counted per "
        "layer (the issue's bound; target: measured ≤ "
        f"{GMAN_BOUND_SLACK}× bound). Step model = FLOPs of a whole round over those of a GAN "
        "round (`step_flops`: in D's step each D runs forward and backward, with weight "
        "gradients, on the real and the fake batch; in G's step it runs forward and "
        "backward-to-input on the fake batch), i.e. the ratio of the work actually done: an "
        "implementation at the same efficiency as its GAN step measures the step model. The "
        "step model exceeds the issue's bound, since D's share of a round is larger than "
        "D / (G + D); where it exceeds 1.2× the bound the verdict says so."
    )
    lines.append("")
    gman_body, multi_body = [], []
    for r in rows:
        if r["family"] == "gan" or r["mode"] not in ("pipeline", "device"):
            continue
        base = index.get(_key(r, game="gan"))
        if base is None:
            continue
        lead = [r["game"], _impl_text(r), _jit_text(r), r["precision"], r["mode"]]
        if not (_ok(r) and _ok(base)):
            status = r.get("status") if not _ok(r) else f"GAN: {base.get('status')}"
            if r["family"] in GMAN_FAMILIES:
                gman_body.append(lead + ["—"] * 5 + [status])
            else:
                multi_body.append(lead + ["—"] * 4 + [status])
            continue
        measured = r["step_s"] / base["step_s"]
        info = r if r.get("g_flops") else _flops_of(rows, r)
        base_info = base if base.get("g_flops") else _flops_of(rows, base)
        model = info["step_flops"] / base_info["step_flops"] if info and base_info else None
        if r["family"] in GMAN_FAMILIES and info:
            g, d = info["g_flops"], info["d_flops"]
            bound = (g + r["n"] * d) / (g + d)
            if measured <= GMAN_BOUND_SLACK * bound:
                verdict = "met"
            else:
                verdict = f"missed by {100 * (measured / (GMAN_BOUND_SLACK * bound) - 1):.0f}%"
            if model and model > GMAN_BOUND_SLACK * bound:
                verdict += f" (step model alone is {model / bound:.2f}× bound)"
            gman_body.append(
                lead
                + [
                    _fmt(measured),
                    _fmt(bound),
                    _fmt(measured / bound),
                    _fmt(model),
                    _fmt(measured / model) if model else "—",
                    verdict,
                ]
            )
        elif r["family"] in ("mgan", "madgan", "megan"):
            verdict = "< K" if measured < r["n"] else "≥ K"
            multi_body.append(
                lead
                + [
                    _fmt(measured),
                    r["n"],
                    _fmt(model),
                    _fmt(measured / model) if model else "—",
                    verdict,
                ]
            )
    if gman_body:
        lines.append(
            _table(
                CONFIG_COLUMNS + " | step / GAN step | FLOP bound | "
                "measured / bound | step model | measured / model | verdict",
                gman_body,
            )
        )
        lines.append("")
    if multi_body:
        lines.append(
            "K-generator games (target: a step costs less than K GAN steps; the step "
            "model counts the batched multi-generator model and MGAN's / MAD-GAN's "
            "K·ceil(B/K) fakes):"
        )
        lines.append("")
        lines.append(
            _table(
                CONFIG_COLUMNS + " | step / GAN step | K | step model | measured / model | verdict",
                multi_body,
            )
        )
    if not gman_body and not multi_body:
        lines.append("No multi-player rows beside a GAN row.")

    # ---- compile time vs N
    lines += ["", "## Time to first step (`fit`) against the number of discriminators", ""]
    body = []
    seen = set()
    for r in rows:
        if r["family"] != "gan" or r["mode"] != "pipeline":
            continue
        k = _key(r)
        if k in seen:
            continue
        seen.add(k)
        for family in GMAN_FAMILIES:
            for clock, field in (("wall", "compile_s"), ("CPU", "compile_cpu_s")):
                points = []
                for game in ["gan"] + sorted(
                    {x["game"] for x in rows if x["family"] == family},
                    key=lambda g: parse_game(g)[1],
                ):
                    other = index.get(_key(r, game=game))
                    if other is not None and _ok(other) and other.get(field) is not None:
                        points.append((parse_game(game)[1], other[field]))
                if len(points) < 2:
                    continue
                exponent = _loglog_slope(points)
                per_d = (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])
                body.append(
                    [
                        _impl_text(r),
                        _jit_text(r),
                        r["precision"],
                        r["mode"],
                        "stacked" if family == "gman_stacked" else "list",
                        clock,
                        ", ".join(f"N={n}: {t:.2f}s" for n, t in points),
                        _fmt(exponent),
                        _fmt(per_d),
                        _growth(exponent),
                    ]
                )
    if not body:
        lines.append("No GAN and GMAN `pipeline` rows to compare.")
    else:
        lines.append(
            "Growth exponent b of time ≈ a·N^b fitted on the points (b < 0.9: "
            "sub-linear, 0.9 to 1.1: about linear); "
            "per extra D: (t_max − t_1)/(N_max − 1). N = 1 is the GAN; `list`: "
            "GMAN with N discriminator models, `stacked`: one stacked model. "
            "`wall`: wall time of the first `fit` step; `CPU`: the process CPU "
            "time of the same call (less sensitive to other load on the machine)."
        )
        lines.append("")
        lines.append(
            _table(
                "impl | jit | precision | mode | discriminators | "
                "clock | time to first step | exponent b | s per extra D | growth",
                body,
            )
        )

    # ---- FLOPs and parameters
    lines += ["", "## FLOPs and parameters (per example, forward, counted per layer)", ""]
    body, seen = [], set()
    for r in rows:
        if r["impl"] != "kmgan" or not r.get("g_flops") or r["game"] in seen:
            continue
        seen.add(r["game"])
        body.append(
            [
                r["game"],
                r.get("players", ""),
                _fmt(r["g_flops"] / 1e6, 1),
                _fmt(r["d_flops"] / 1e6, 1),
                _fmt(r["gate_flops"] / 1e6, 1) if r.get("gate_flops") else "—",
                f"{r['params_g']:,}",
                f"{r['params_d']:,}",
                _fmt(r["step_flops"] / 1e9, 2),
            ]
        )
    if body:
        lines.append(
            _table(
                "game | players | G MFLOPs | D MFLOPs (each) | "
                "gate MFLOPs | G params | D params (all) | round GFLOPs (batch)",
                body,
            )
        )
        lines.append("")
        lines.append(
            "Achieved GFLOP/s = round GFLOPs × steps/s; e.g. "
            + ", ".join(
                f"{r['game']} {_impl_text(r)} jit {_jit_text(r)} {r['mode']}: "
                f"{r['step_flops'] * r['steps_per_s'] / 1e9:.1f}"
                for r in rows
                if r["impl"] == "kmgan"
                and _ok(r)
                and r.get("step_flops")
                and r["precision"] == "float32"
                and r["mode"] == "device"
            )
            + "."
        )
    lines.append("")
    return "\n".join(lines)


def _growth(exponent):
    if exponent != exponent:  # nan
        return "—"
    if exponent < 0.9:
        return "sub-linear"
    return "about linear" if exponent <= 1.1 else "super-linear"


def _flops_of(rows, row):
    for r in rows:
        if r["impl"] == "kmgan" and r["game"] == row["game"] and r.get("g_flops"):
            return r
    return None


def _loglog_slope(points):
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(t, 1e-9)) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else float("nan")


def merge(paths):
    metas, rows = [], []
    for path in paths:
        data = read_json(path)  # a damaged file: DamagedFileError naming it
        metas.extend(data["meta"])
        rows.extend(data["rows"])
    return {"meta": metas, "rows": rows}


def write_text(path, text):
    atomic_write_text(path, text)  # a kill mid-write leaves the previous file
