"""Tests for kmgan.nets: shapes, layer conventions, serialization, panels.

Speed note: on JAX every new weight shape compiles its own random-normal
program (about 0.2-1 s each on CPU), so the tests reuse a few sizes (BF,
LATENT, HIDDEN) wherever they can.
"""

import keras
import numpy as np
import pytest

from kmgan import nets

IMAGE_SHAPES = [(s, s, c) for s in (28, 32, 64) for c in (1, 3)]
CONV_FC_SHAPES = [(s, s, c) for s in (28, 32) for c in (1, 3)]
BAD_SHAPES = [(30, 30, 1), (28, 28, 2), (28, 28), (64, 32, 3), (16, 16, 1), "28x28", None]
BF = 8  # small nets keep the tests fast
LATENT = 16
HIDDEN = (16, 16)
BATCH = 3


def _z(rng, n=BATCH, dim=LATENT):
    return rng.normal(size=(n, dim)).astype("float32")


def _images(rng, shape, n=BATCH):
    return rng.uniform(-1, 1, size=(n, *shape)).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _forward(model, x):
    """Inference-mode forward pass (one compiled graph; cheaper on JAX)."""
    return np.asarray(model.predict_on_batch(x))


def _layers_of(model, cls):
    return [layer for layer in model.layers if isinstance(layer, cls)]


def _layer_types(model):
    return {type(layer).__name__ for layer in model.layers}


# --------------------------------------------------------------------------
# DCGAN


@pytest.mark.parametrize("shape", IMAGE_SHAPES)
def test_dcgan_shapes_tanh_range_and_logits(shape, rng):
    g = nets.dcgan_generator(latent_dim=LATENT, image_shape=shape, base_filters=BF)
    assert isinstance(g, keras.Model)
    assert g.name == "dcgan_generator"
    assert tuple(g.input_shape) == (None, LATENT)
    fake = _forward(g, _z(rng))
    assert fake.shape == (BATCH, *shape)
    assert np.all(np.abs(fake) <= 1.0)
    assert np.std(fake) > 0  # not a constant output
    assert nets.latent_dim_of(g) == LATENT
    assert nets.image_shape_of(g) == shape

    d = nets.dcgan_discriminator(image_shape=shape, base_filters=BF)
    assert d.name == "dcgan_discriminator"
    assert tuple(d.input_shape) == (None, *shape)
    assert tuple(d.output_shape) == (None, 1)
    if shape[0] != 32:  # 32x32 D forward passes run in the save/reload test
        assert _forward(d, fake).shape == (BATCH, 1)
    assert nets.image_shape_of(d) == shape


def test_dcgan_feature_map_layouts():
    cases = {
        (28, 28, 1): [(7, 7, 2 * BF), (14, 14, BF)],
        (32, 32, 3): [(4, 4, 4 * BF), (8, 8, 2 * BF), (16, 16, BF)],
        (64, 64, 3): [(4, 4, 8 * BF), (8, 8, 4 * BF), (16, 16, 2 * BF), (32, 32, BF)],
    }
    for shape, maps in cases.items():
        g = nets.dcgan_generator(latent_dim=LATENT, image_shape=shape, base_filters=BF)
        assert tuple(g.get_layer("reshape").output.shape[1:]) == maps[0]
        # The first ReLU follows the (flat) projection; the others the up blocks.
        relus = _layers_of(g, keras.layers.ReLU)
        assert [tuple(l.output.shape[1:]) for l in relus[1:]] == maps[1:]
    d = nets.dcgan_discriminator(image_shape=(32, 32, 3), base_filters=BF)
    convs = _layers_of(d, keras.layers.Conv2D)
    assert [tuple(c.output.shape[1:]) for c in convs] == [
        (16, 16, BF),
        (8, 8, 2 * BF),
        (4, 4, 4 * BF),
    ]


def test_bad_image_shapes_raise():
    for bad in BAD_SHAPES:
        with pytest.raises(ValueError, match=r"Supported shapes: \(28, 28, C\)"):
            nets.dcgan_generator(image_shape=bad, base_filters=BF)
        with pytest.raises(ValueError, match=r"\(64, 64, C\)"):
            nets.dcgan_discriminator(image_shape=bad, base_filters=BF)
        with pytest.raises(ValueError, match="Supported shapes"):
            nets.conv_fc_generator(image_shape=bad, base_filters=BF)
        with pytest.raises(ValueError, match="Supported shapes"):
            nets.conv_fc_discriminator(image_shape=bad, base_filters=BF)
    # The conv+FC nets stop at 32x32.
    with pytest.raises(ValueError, match=r"\(32, 32, C\)"):
        nets.conv_fc_generator(image_shape=(64, 64, 3), base_filters=BF)
    with pytest.raises(ValueError):
        nets.conv_fc_discriminator(image_shape=(64, 64, 1), base_filters=BF)
    with pytest.raises(ValueError):
        nets.varied_discriminators(2, image_shape=(30, 30, 1))


def test_dcgan_layer_conventions():
    g = nets.dcgan_generator(latent_dim=LATENT, image_shape=(32, 32, 3), base_filters=BF)
    assert "BatchNormalization" in _layer_types(g)
    assert "Conv2DTranspose" in _layer_types(g)
    assert g.layers[-1].get_config()["activation"] == "tanh"
    # BN after the projection and each hidden up block, not on the output.
    assert len(_layers_of(g, keras.layers.BatchNormalization)) == 3

    d = nets.dcgan_discriminator(image_shape=(64, 64, 1), base_filters=BF)
    lrelus = _layers_of(d, keras.layers.LeakyReLU)
    assert len(lrelus) == 4
    assert all(l.negative_slope == pytest.approx(0.2) for l in lrelus)
    assert len(_layers_of(d, keras.layers.BatchNormalization)) == 3  # not block 1
    assert all(tuple(c.strides) == (2, 2) for c in _layers_of(d, keras.layers.Conv2D))
    last = d.layers[-1]
    assert isinstance(last, keras.layers.Dense) and last.units == 1
    assert last.get_config()["activation"] == "linear"  # logits, no sigmoid
    assert "Dropout" not in _layer_types(d)
    d_drop = nets.dcgan_discriminator(image_shape=(28, 28, 1), base_filters=BF, dropout=0.3)
    assert "Dropout" in _layer_types(d_drop)


def test_dcgan_weight_init_is_n_0_002():
    # Same shapes as the tests above, so JAX reuses its compiled initializers.
    d = nets.dcgan_discriminator(image_shape=(64, 64, 3), base_filters=BF)
    kernel = _np(d.get_layer("conv4").kernel)  # 4 * 4 * 4BF * 8BF weights
    assert abs(kernel.mean()) < 0.002
    assert kernel.std() == pytest.approx(0.02, rel=0.1)
    g = nets.dcgan_generator(latent_dim=LATENT, image_shape=(28, 28, 1), base_filters=BF)
    assert _np(g.get_layer("project").kernel).std() == pytest.approx(0.02, rel=0.1)
    gamma = _np(g.get_layer("project_bn").gamma)
    assert gamma.mean() == pytest.approx(1.0, abs=0.01)
    assert gamma.std() == pytest.approx(0.02, rel=0.5)


def test_dcgan_argument_validation():
    assert nets.max_discriminator_depth((28, 28, 1)) == 4
    assert nets.max_discriminator_depth((32, 32, 3)) == 4
    assert nets.max_discriminator_depth((64, 64, 3)) == 5
    for bad_depth in (0, 5, -1, 2.5):
        with pytest.raises(ValueError, match="depth"):
            nets.dcgan_discriminator(image_shape=(28, 28, 1), base_filters=BF, depth=bad_depth)
    with pytest.raises(ValueError, match="dropout"):
        nets.dcgan_discriminator(image_shape=(28, 28, 1), dropout=1.0)
    with pytest.raises(ValueError, match="base_filters"):
        nets.dcgan_generator(base_filters=0)
    with pytest.raises(ValueError, match="latent_dim"):
        nets.dcgan_generator(latent_dim=None)


@pytest.mark.parametrize(
    "build",
    [
        lambda depth: nets.conditional_discriminator(3, (28, 28, 1), BF, depth=depth),
        lambda depth: nets.mgan_discriminator(3, (28, 28, 1), BF, depth=depth),
        lambda depth: nets.madgan_discriminator(3, (28, 28, 1), BF, depth=depth),
        lambda depth: nets.stacked_dcgan_discriminator(2, (28, 28, 1), BF, depth=depth),
    ],
    ids=["conditional", "mgan", "madgan", "stacked"],
)
def test_discriminators_on_dcgan_blocks_take_the_same_depths(build):
    convs = [layer for layer in build(4).layers if layer.name in ("conv1", "conv4", "conv5")]
    assert [layer.name for layer in convs] == ["conv1", "conv4"]
    for bad_depth in (0, 5, -1, 2.5):
        with pytest.raises(ValueError, match="depth"):
            build(bad_depth)


# --------------------------------------------------------------------------
# conv + FC ("regular GAN" of the GMAN report)


@pytest.mark.parametrize("shape", CONV_FC_SHAPES)
def test_conv_fc_shapes(shape, rng):
    g = nets.conv_fc_generator(latent_dim=LATENT, image_shape=shape, base_filters=BF)
    assert g.name == "conv_fc_generator"
    fake = _forward(g, _z(rng))
    assert fake.shape == (BATCH, *shape)
    assert np.all(np.abs(fake) <= 1.0)
    d = nets.conv_fc_discriminator(image_shape=shape, base_filters=BF)
    assert d.name == "conv_fc_discriminator"
    assert _forward(d, fake).shape == (BATCH, 1)


def test_conv_fc_structure():
    g = nets.conv_fc_generator(latent_dim=LATENT, image_shape=(32, 32, 3), base_filters=BF)
    assert len(_layers_of(g, keras.layers.Conv2D)) == 3
    assert "BatchNormalization" in _layer_types(g)
    out_dense = g.get_layer("fc_out")
    assert out_dense.units == 32 * 32 * 3
    assert out_dense.get_config()["activation"] == "tanh"
    lrelus = _layers_of(g, keras.layers.LeakyReLU)
    assert lrelus and all(l.negative_slope == pytest.approx(0.2) for l in lrelus)

    d = nets.conv_fc_discriminator(image_shape=(32, 32, 3), base_filters=BF)
    convs = _layers_of(d, keras.layers.Conv2D)
    assert len(convs) == 3 and all(tuple(c.strides) == (2, 2) for c in convs)
    dense = _layers_of(d, keras.layers.Dense)
    assert [l.units for l in dense] == [16 * BF, 1]
    assert dense[-1].get_config()["activation"] == "linear"
    d_lrelus = _layers_of(d, keras.layers.LeakyReLU)
    assert all(l.negative_slope == pytest.approx(0.2) for l in d_lrelus)
    d0 = nets.conv_fc_discriminator(image_shape=(28, 28, 1), base_filters=BF, hidden_units=())
    assert [l.units for l in _layers_of(d0, keras.layers.Dense)] == [1]


# --------------------------------------------------------------------------
# MLPs


def test_mlp_shapes(rng):
    g = nets.mlp_generator(latent_dim=2, output_dim=2, hidden_units=HIDDEN)
    assert g.name == "mlp_generator"
    out = _forward(g, _z(rng, 5, 2))
    assert out.shape == (5, 2)
    assert g.layers[-1].get_config()["activation"] == "linear"
    assert nets.latent_dim_of(g) == 2
    d = nets.mlp_discriminator(input_dim=2, hidden_units=HIDDEN, dropout=0.1)
    assert d.name == "mlp_discriminator"
    assert _forward(d, out).shape == (5, 1)
    assert d.layers[-1].get_config()["activation"] == "linear"
    with pytest.raises(ValueError):
        nets.mlp_generator(latent_dim=0)
    with pytest.raises(ValueError):
        nets.mlp_discriminator(hidden_units=(32, -4))
    with pytest.raises(ValueError, match="image"):
        nets.image_shape_of(d)
    with pytest.raises(ValueError, match="latent"):
        nets.latent_dim_of(nets.dcgan_discriminator(base_filters=BF))


# --------------------------------------------------------------------------
# Serialization


def _roundtrip(model, x, tmp_path):
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.name == model.name
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(_forward(model, x), _forward(loaded, x))
    return loaded


def test_save_and_reload_safe_mode(tmp_path, rng):
    shape = (32, 32, 3)
    x = _images(rng, shape)
    z = _z(rng)
    models = [
        (nets.dcgan_generator(latent_dim=LATENT, image_shape=shape, base_filters=BF), z),
        (nets.dcgan_discriminator(image_shape=shape, base_filters=BF, dropout=0.2), x),
        (nets.conv_fc_generator(latent_dim=LATENT, image_shape=shape, base_filters=BF), z),
        (nets.conv_fc_discriminator(image_shape=shape, base_filters=BF), x),
        (nets.mlp_generator(latent_dim=LATENT, hidden_units=HIDDEN), z),
        (nets.mlp_discriminator(input_dim=2, hidden_units=HIDDEN, dropout=0.1), _z(rng, dim=2)),
    ]
    for model, inp in models:
        _roundtrip(model, inp, tmp_path)
    g = keras.saving.load_model(tmp_path / "dcgan_generator.keras", safe_mode=True)
    assert nets.latent_dim_of(g) == LATENT
    assert nets.image_shape_of(g) == shape


def test_reload_after_training_keeps_bn_statistics(tmp_path, rng):
    g = nets.dcgan_generator(latent_dim=LATENT, image_shape=(28, 28, 1), base_filters=BF)
    z = _z(rng, 8)
    g(z, training=True)  # moves the BN moving statistics away from 0 / 1
    moving_mean = _np(g.get_layer("up1_bn").moving_mean)
    assert np.any(moving_mean != 0)
    loaded = _roundtrip(g, z, tmp_path)
    np.testing.assert_array_equal(moving_mean, _np(loaded.get_layer("up1_bn").moving_mean))


# --------------------------------------------------------------------------
# Panels of varied discriminators


def _signature(model):
    """Layer types and configs (names left out): equal iff same architecture."""

    def config(layer):
        items = layer.get_config().items()
        return tuple(sorted((k, str(v)) for k, v in items if k != "name"))

    return tuple((type(l).__name__, config(l)) for l in model.layers)


def test_varied_discriminators_images(rng, tmp_path):
    n = 3
    shape = (28, 28, 1)
    ds = nets.varied_discriminators(n, image_shape=shape, base_filters=BF)
    configs = nets.varied_discriminator_configs(n, image_shape=shape, base_filters=BF)
    assert len(ds) == n
    assert [d.name for d in ds] == [f"discriminator_{i}" for i in range(n)]
    assert len({_signature(d) for d in ds}) == n
    assert len({d.count_params() for d in ds}) == n
    # The schedule: all of width, kernel, dropout differ; depth alternates.
    for key in ("base_filters", "kernel_size", "dropout"):
        assert len({c[key] for c in configs}) == n, key
    assert [c["depth"] for c in configs] == [2, 3, 2]
    assert configs[0]["base_filters"] == BF and configs[0]["dropout"] == 0.0
    x = _images(rng, shape)
    for d, cfg in zip(ds, configs):
        convs = _layers_of(d, keras.layers.Conv2D)
        assert len(convs) == cfg["depth"]
        assert all(tuple(c.kernel_size) == (cfg["kernel_size"],) * 2 for c in convs)
        assert convs[0].filters == cfg["base_filters"]
        assert ("Dropout" in _layer_types(d)) == (cfg["dropout"] > 0)
        assert tuple(d.output_shape) == (None, 1)
    loaded = _roundtrip(ds[1], x, tmp_path)  # with dropout and the extra depth
    assert _forward(loaded, x).shape == (BATCH, 1)


def test_varied_configs_distinct_for_first_60():
    configs = nets.varied_discriminator_configs(60, image_shape=(64, 64, 3))
    keys = {tuple(sorted((k, v) for k, v in c.items() if k != "name")) for c in configs}
    assert len(keys) == 60
    assert all(c["depth"] <= nets.max_discriminator_depth((64, 64, 3)) for c in configs)
    mlp = nets.varied_discriminator_configs(20, input_dim=2)
    assert len({(c["hidden_units"], c["dropout"]) for c in mlp}) == 20


def test_varied_discriminators_mlp(rng):
    ds = nets.varied_discriminators(3, input_dim=2, hidden_units=HIDDEN)
    assert [d.name for d in ds] == [f"discriminator_{i}" for i in range(3)]
    assert len({d.count_params() for d in ds}) == 3
    assert len({_signature(d) for d in ds}) == 3
    x = _z(rng, 7, 2)
    for d in ds:
        assert tuple(d.input_shape) == (None, 2)
        assert _forward(d, x).shape == (7, 1)


def test_varied_discriminators_seeding():
    a = nets.varied_discriminators(2, input_dim=2, hidden_units=HIDDEN, seed=3)
    b = nets.varied_discriminators(2, input_dim=2, hidden_units=HIDDEN, seed=3)
    c = nets.varied_discriminators(2, input_dim=2, hidden_units=HIDDEN, seed=4)
    wa, wb, wc = (_np(m[0].get_layer("dense1").kernel) for m in (a, b, c))
    np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(wa, wc)
    # Within one model, same-shaped layers still get different weights.
    d2, d3 = _np(a[1].get_layer("dense2").kernel), _np(a[1].get_layer("dense3").kernel)
    assert d2.shape == d3.shape and not np.array_equal(d2, d3)


@pytest.mark.parametrize("n", [0, -2])
def test_varied_discriminators_bad_n(n):
    with pytest.raises(ValueError, match="n"):
        nets.varied_discriminators(n, image_shape=(28, 28, 1))


def test_varied_discriminators_needs_exactly_one_input_kind():
    with pytest.raises(ValueError, match="exactly one"):
        nets.varied_discriminators(2)
    with pytest.raises(ValueError, match="exactly one"):
        nets.varied_discriminators(2, image_shape=(28, 28, 1), input_dim=2)
