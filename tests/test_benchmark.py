"""The throughput benchmark (recipes/benchmark.py) and its PyTorch peer.

No timed assertions: the benchmark runs end to end in a tiny configuration,
its report is written, its registry reports a game that cannot be built,
its FLOP counter agrees with a hand count, and the PyTorch reference
computes the same GAN step as kmgan (so that the benchmark compares the
same work).
"""

import itertools
import json
import os

import keras
import numpy as np
import pytest
from keras import ops

import kmgan
from tests.helpers import load_recipe

BACKEND = keras.backend.backend()


benchmark = load_recipe("benchmark")


def _torch_or_reason():
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        return f"PyTorch is absent (the optional 'bench' extra): {exc}"
    return None


TORCH_MISSING = _torch_or_reason()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    json_path, md_path = out / f"{BACKEND}.json", out / f"{BACKEND}.md"
    # TensorFlow runs jit off here: XLA-compiling the two tiny games costs
    # ~40 s on a loaded 2-core machine, and the XLA path of the engine is
    # covered by test_engine. JAX runs its default, jit on. No clear_session:
    # the rest of the test session keeps its Keras global state.
    jit = "off" if BACKEND == "tensorflow" else "on"
    # --stacked adds gman_stacked-2 (the two discriminators as one stacked model).
    benchmark.main(
        [
            "--tiny",
            "--stacked",
            "--jit",
            jit,
            "--torch-threads",
            "1",
            "--no-clear-session",
            "--json",
            str(json_path),
            "--out",
            str(md_path),
            "--quiet",
        ]
    )
    with open(json_path) as f:
        result = json.load(f)
    return result, md_path.read_text(), json_path


def test_tiny_benchmark_runs_end_to_end(tiny_run):
    result, markdown, _ = tiny_run
    rows = result["rows"]
    kmgan_rows = [r for r in rows if r["impl"] == "kmgan"]
    assert {(r["game"], r["mode"]) for r in kmgan_rows} == {
        (g, m) for g in ("gan", "gman-2", "gman_stacked-2") for m in ("pipeline", "device")
    }
    for r in kmgan_rows:
        assert r["status"] == "ok", r
        assert r["backend"] == BACKEND
        assert r["steps_per_s"] > 0 and r["compile_s"] > 0 and r["peak_rss_mb"] > 0
        assert r["batch_size"] == 8 and r["base_filters"] == 4 and r["steps"] == 1
        assert r["g_flops"] > 0 and r["d_flops"] > 0 and r["step_flops"] > 0
    device = result["meta"][0]["device"]
    assert device["backend"] == BACKEND and device["cpu_count"] >= 1
    assert "## Throughput" in markdown and "gman-2" in markdown
    assert f"{device['cpu_count']} CPUs" in markdown
    assert "## Multi-player cost" in markdown and "FLOP bound" in markdown
    stacked = [r for r in kmgan_rows if r["game"] == "gman_stacked-2"]
    plain = [r for r in kmgan_rows if r["game"] == "gman-2"]
    assert stacked[0]["d_flops"] == plain[0]["d_flops"]  # per discriminator
    assert stacked[0]["params_d"] == plain[0]["params_d"]
    compile_section = markdown.split("## Time to first step")[1]
    assert "| list |" in compile_section and "| stacked |" in compile_section


def test_tiny_benchmark_pytorch_column(tiny_run):
    result, markdown, _ = tiny_run
    torch_rows = [r for r in result["rows"] if r["impl"] == "torch"]
    assert {(r["game"], r["mode"]) for r in torch_rows} == {
        (g, m) for g in ("gan", "gman-2") for m in ("pipeline", "device")
    }
    if TORCH_MISSING:
        assert all(r["status"].startswith("skipped: PyTorch is not installed") for r in torch_rows)
        pytest.skip(TORCH_MISSING)
    for r in torch_rows:
        assert r["status"] == "ok", r
        assert r["steps_per_s"] > 0 and r["run_backend"] == BACKEND
    section = markdown.split("## kmgan / PyTorch")[1].split("## Multi-player")[0]
    ratio_rows = [line for line in section.splitlines() if line.startswith(("| gan ", "| gman-2 "))]
    assert len(ratio_rows) == 4
    for line in ratio_rows:
        float(line.strip(" |").split("|")[-1])  # a number, not a reason


def test_merge_combines_runs(tiny_run, tmp_path):
    _, _, json_path = tiny_run
    out = tmp_path / "BENCHMARK.md"
    result = benchmark.main(
        ["--merge", str(json_path), str(json_path), "--out", str(out), "--quiet"]
    )
    assert len(result["meta"]) == 2
    text = out.read_text()
    assert text.count(f"**{BACKEND} run**") == 2 and "## Throughput" in text


def test_registry_reports_unavailable_games(monkeypatch):
    def broken(cfg, k):
        raise ImportError("kmgan.games.mgan is being rewritten")

    monkeypatch.setitem(benchmark.REGISTRY, "mgan", broken)
    argv = ["--tiny", "--games", "mgan-4", "--no-clear-session"]
    cfg = benchmark.config_from_args(benchmark.build_parser().parse_args(argv), argv)
    (job,) = benchmark.make_jobs(cfg, BACKEND)
    rows = benchmark.run_kmgan_job(job, cfg, benchmark.PeakMemory())
    assert [r["mode"] for r in rows] == ["pipeline", "device"]
    for r in rows:
        assert r["status"] == "unavailable: ImportError: kmgan.games.mgan is being rewritten"
        assert "steps_per_s" not in r
    text = benchmark.render_markdown({"meta": [_fake_meta()], "rows": rows})
    assert "unavailable: ImportError" in text


def _fake_meta():
    return {
        "device": {
            "backend": BACKEND,
            "cpu": "cpu",
            "machine": "x",
            "cpu_count": 2,
            "cpu_usable": 2,
            "gpus": [],
        },
        "config": {
            "image_shape": [32, 32, 3],
            "latent_dim": 100,
            "base_filters": 4,
            "batch_size": 8,
            "repeats": 1,
            "steps": 1,
            "warmup": 0,
        },
        "rss_method": "test",
    }


def test_flop_counter_counts_batched_megan_experts_as_their_chains():
    nets = kmgan.nets
    chains = benchmark.forward_flops(nets.megan_experts(3, 16, (28, 28, 1), 4, batched=False))
    batched = benchmark.forward_flops(nets.megan_experts(3, 16, (28, 28, 1), 4, batched=True))
    assert chains[1] == [] and batched == chains


def test_flop_counter_counts_stacked_discriminators():
    from kmgan.nets.stacked import stacked_dcgan_discriminator
    from kmgan.nets.stacked import stacked_mlp_discriminator

    one = benchmark.forward_flops(kmgan.nets.dcgan_discriminator((32, 32, 3), base_filters=4))
    five = benchmark.forward_flops(stacked_dcgan_discriminator(5, (32, 32, 3), base_filters=4))
    assert five == (5 * one[0], [])
    mlp = benchmark.forward_flops(kmgan.nets.mlp_discriminator(2, (8, 8)))
    assert benchmark.forward_flops(stacked_mlp_discriminator(3, 2, (8, 8))) == (3 * mlp[0], [])
    assert benchmark.parse_game("gman_stacked-5") == ("gman_stacked", 5)
    argv = ["--games", "gan,gman-2,gman-5", "--stacked"]
    cfg = benchmark.config_from_args(benchmark.build_parser().parse_args(argv), argv)
    assert cfg["games"] == ["gan", "gman-2", "gman_stacked-2", "gman-5", "gman_stacked-5"]


def test_flop_counter_matches_a_hand_count():
    g = kmgan.nets.dcgan_generator(100, (32, 32, 3), base_filters=4, seed=0)
    d = kmgan.nets.dcgan_discriminator((32, 32, 3), base_filters=4, seed=0)
    # G: Dense 100 -> 4*4*16 (no bias); ConvT 4x4x16 -> 8x8x8, 8x8x8 -> 16x16x4
    # (k 4, no bias); ConvT 16x16x4 -> 32x32x3 with bias. 2 FLOPs per MAC.
    g_hand = (
        2 * 100 * 256
        + 2 * (4 * 4 * 16) * 16 * 8
        + 2 * (8 * 8 * 8) * 16 * 4
        + 2 * (16 * 16 * 4) * 16 * 3
        + 32 * 32 * 3
    )
    # D: Conv 32x32x3 -> 16x16x4 (bias), -> 8x8x8, -> 4x4x16, Dense 256 -> 1.
    d_hand = (
        16 * 16 * 4 * (2 * 16 * 3 + 1)
        + 8 * 8 * 8 * 2 * 16 * 4
        + 4 * 4 * 16 * 2 * 16 * 8
        + 2 * 256
        + 1
    )
    assert benchmark.forward_flops(g) == (g_hand, [])
    assert benchmark.forward_flops(d) == (d_hand, [])
    # A GMAN-N round is G's work plus N times D's.
    one = benchmark.step_flops("gan", 8, 8, g_hand, d_hand)
    five = benchmark.step_flops("gman", 8, 8, g_hand, d_hand, n=5)
    assert five - one == 4 * (one - benchmark.step_flops("gan", 8, 8, g_hand, 0))


@pytest.mark.skipif(TORCH_MISSING is not None, reason=str(TORCH_MISSING))
def test_torch_reference_computes_the_kmgan_gan_step():
    import torch

    tr = load_recipe("torch_reference")
    shape, latent, batch = (32, 32, 3), 100, 8
    g = kmgan.nets.dcgan_generator(latent, shape, base_filters=8, seed=3)
    d = kmgan.nets.dcgan_discriminator(shape, base_filters=8, seed=4)
    tg = tr.copy_keras_generator(g, tr.DCGANGenerator(latent, shape, 8))
    td = tr.copy_keras_discriminator(d, tr.DCGANDiscriminator(shape, 8))

    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (batch,) + shape).astype("float32")
    z_d = rng.standard_normal((batch, latent)).astype("float32")
    z_g = rng.standard_normal((batch, latent)).astype("float32")

    # kmgan's GAN step, its two draws of z replaced by z_d (D step), z_g (G step).
    game = kmgan.GAN(g, d, loss="non_saturating", seed=0)
    draws = itertools.cycle([z_d, z_g])
    game.sample_z = lambda n: ops.convert_to_tensor(next(draws))
    game.compile(
        d_optimizer=keras.optimizers.Adam(**benchmark.ADAM),
        g_optimizer=keras.optimizers.Adam(**benchmark.ADAM),
        jit_compile=BACKEND == "jax",
    )
    logs = game.train_on_batch(real, return_dict=True)

    peer = tr.TorchGame(tg, [td])  # Adam(2e-4, (0.5, 0.999), eps 1e-8) per player
    d_loss, g_loss, _ = peer.step(
        tr.nhwc_to_nchw(real), torch.from_numpy(z_d), torch.from_numpy(z_g)
    )

    # D's loss before its update; G's loss against the updated D.
    np.testing.assert_allclose(logs["d_loss"], float(d_loss), atol=1e-4)
    np.testing.assert_allclose(logs["g_loss"], float(g_loss), atol=1e-4)
    # The same Adam step (lr 2e-4 per weight) on both sides ...
    np.testing.assert_allclose(
        d.get_layer("logits").get_weights()[1], td.logits.bias.detach().numpy(), atol=2e-5
    )
    kernel, bias = g.get_layer("image").get_weights()
    np.testing.assert_allclose(bias, tg.image.bias.detach().numpy(), atol=2e-5)
    np.testing.assert_allclose(
        np.transpose(kernel, (3, 2, 0, 1)), tg.image.weight.detach().numpy(), atol=2e-5
    )
    # ... and the same batch-norm statistics (Keras momentum 0.9 = PyTorch 0.1;
    # D saw real, fake, then G's fake).
    np.testing.assert_allclose(
        ops.convert_to_numpy(d.get_layer("conv2_bn").moving_mean),
        td.features[3].running_mean.numpy(),
        atol=1e-5,
    )


def test_gpu_check_script_parses_and_needs_the_device_out_folder():
    import subprocess

    script = os.path.join(os.path.dirname(__file__), "..", "recipes", "gpu_check.sh")
    assert subprocess.run(["bash", "-n", script]).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    out = subprocess.run(["bash", script], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "OUT" in out.stderr
