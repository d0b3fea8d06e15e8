"""MEGAN: straight-through Gumbel-softmax, load balancing, the gate, WGAN-GP, ring."""

import keras
import numpy as np
import pytest
from keras import ops

from kmgan.engine import input_gradient
from kmgan.games.gumbel import gumbel_noise
from kmgan.games.gumbel import gumbel_softmax
from kmgan.games.gumbel import load_balancing_loss
from kmgan.games.gumbel import megan_temperature
from kmgan.games.gumbel import straight_through_gumbel_softmax
from kmgan.games.megan import MEGAN
from kmgan.nets import megan as nets
from kmgan.nets.multi import GroupedDense
from tests.helpers import assert_every_player_advances
from tests.helpers import ring_coverage_before_after
from tests.helpers import value

N = 3
LATENT = 4


def toy_megan(
    loss="non_saturating",
    d_steps=1,
    lam=100.0,
    seed=0,
    n=N,
    hidden=16,
    latent=LATENT,
    gate_units=(8, 16),
    detach_features=False,
):
    experts = nets.megan_mlp_experts(n, latent_dim=latent, hidden_units=(hidden, hidden), seed=seed)
    m, h = gate_units
    gate = nets.megan_gate(n, latent, hidden, encoding_dim=m, hidden_units=(h, h), seed=seed + 5)
    d = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(hidden),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Dense(1),
        ],
        name="d",
    )
    return MEGAN(
        experts,
        d,
        gate=gate,
        lam=lam,
        loss=loss,
        d_steps=d_steps,
        detach_features=detach_features,
        seed=seed,
    )


# --------------------------------------------------------- Gumbel-softmax


def test_straight_through_forward_is_exactly_one_hot():
    logits = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    y = value(straight_through_gumbel_softmax(logits, 0.7, seed=keras.random.SeedGenerator(1)))
    assert set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(y.sum(axis=1), np.ones(64, "float32"))


def test_gradients_reach_the_logits():
    logits = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    noise = value(gumbel_noise((8, 4), keras.random.SeedGenerator(2)))
    weights = np.arange(4, dtype="float32")

    def f(l):
        return ops.sum(ops.multiply(straight_through_gumbel_softmax(l, 0.5, noise), weights))

    grad = value(input_gradient(f, ops.convert_to_tensor(logits)))
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 1e-3
    # ...and equal the soft Gumbel-softmax's gradient.
    soft_grad = value(
        input_gradient(
            lambda l: ops.sum(ops.multiply(gumbel_softmax(l, 0.5, noise), weights)),
            ops.convert_to_tensor(logits),
        )
    )
    np.testing.assert_allclose(grad, soft_grad, rtol=1e-5, atol=1e-6)


def test_low_temperature_sample_is_gumbel_max():
    logits = np.random.default_rng(2).normal(size=(200, 6)).astype("float32")
    noise = value(gumbel_noise((200, 6), keras.random.SeedGenerator(7)))
    y = value(straight_through_gumbel_softmax(logits, 1e-3, seed=keras.random.SeedGenerator(7)))
    np.testing.assert_array_equal(y.argmax(1), (logits + noise).argmax(1))
    soft = value(gumbel_softmax(logits, 1e-3, noise))
    assert np.abs(soft - y).mean() < 1e-2


def test_samples_follow_softmax_of_the_logits():
    logits = np.tile(np.array([[0.0, 1.0, 2.0]], "float32"), (6000, 1))
    y = value(straight_through_gumbel_softmax(logits, 0.5, seed=keras.random.SeedGenerator(3)))
    p = np.exp(logits[0]) / np.exp(logits[0]).sum()
    np.testing.assert_allclose(y.mean(0), p, atol=0.03)


def test_load_balancing_loss():
    g = np.eye(3, dtype="float32")[[0, 0, 1, 2]]  # p = (1/2, 1/4, 1/4)
    want = (0.5 - 1 / 3) ** 2 + 2 * (0.25 - 1 / 3) ** 2
    np.testing.assert_allclose(float(value(load_balancing_loss(g))), want, rtol=1e-6)
    balanced = np.eye(3, dtype="float32")[[0, 1, 2, 2, 1, 0]]
    assert float(value(load_balancing_loss(balanced))) == 0.0
    one = np.eye(4, dtype="float32")[[2] * 8]
    want_one = (3 / 4) ** 2 + 3 * (1 / 4) ** 2
    np.testing.assert_allclose(float(value(load_balancing_loss(one))), want_one, rtol=1e-6)


def test_temperature_schedule():
    np.testing.assert_allclose(float(value(megan_temperature(0))), 0.5)
    np.testing.assert_allclose(float(value(megan_temperature(1000))), 0.5 * np.exp(-1.0), rtol=1e-6)
    # Floored: the paper's schedule underflows float32 in long runs.
    assert float(value(megan_temperature(10**6))) == pytest.approx(1e-3)


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize("batched", [True, False])
def test_experts_return_images_and_feature_maps(batched):
    experts = nets.megan_experts(
        2, latent_dim=LATENT, image_shape=(28, 28, 1), base_filters=4, batched=batched
    )
    images, features = experts.outputs
    assert tuple(images.shape[1:]) == (2, 28, 28, 1)
    # The ReLU map after the paper's second transposed convolution (our first
    # Conv2DTranspose block): 14x14x4 here; 8x8x128 = 8192 for CIFAR-10 with
    # the default width (the paper's k).
    assert tuple(features.shape[1:]) == (2, 14 * 14 * 4)
    if batched:  # the two experts' maps side by side on the channels
        assert experts.get_layer("up1_relu").output.shape[1:] == (14, 14, 2 * 4)
    else:
        assert experts.get_layer("e1_up1_relu").output.shape[1:] == (14, 14, 4)
    gate = nets.megan_gate(2, LATENT, 16)
    assert tuple(gate.outputs[0].shape[1:]) == (2,)
    assert gate.get_layer("encoders").kernel.shape == (2, 16, 100)  # m = 100


def test_experts_default_to_one_layer_chain_per_expert():
    # The faster form on a CPU (see `megan_experts`): expert i's own stock layers.
    experts = nets.megan_experts(2, latent_dim=LATENT, image_shape=(28, 28, 1), base_filters=4)
    assert experts.get_layer("e1_up1_relu").output.shape[1:] == (14, 14, 4)
    assert not any(isinstance(layer, GroupedDense) for layer in experts.layers)


CONV_T_CASES = [  # (kernel, strides, padding, input side)
    (4, 2, "same", 7),
    (4, 2, "same", 4),
    (3, 1, "same", 5),
    (5, 2, "same", 4),
    (3, 2, "same", 3),
    (4, 2, "valid", 4),
    (3, 1, "valid", 5),
]


@pytest.mark.parametrize("implementation", ["matmul", "split"])
@pytest.mark.parametrize("kernel,strides,padding,side", CONV_T_CASES)
def test_grouped_conv_transpose_equals_k_conv_transposes(
    implementation, kernel, strides, padding, side
):
    if implementation == "matmul" and padding == "valid":
        with pytest.raises(ValueError, match="split"):
            nets.GroupedConv2DTranspose(3, 2, kernel, strides, padding, implementation="matmul")
        return
    k, c, f = 3, 2, 5
    layer = nets.GroupedConv2DTranspose(
        k,
        f,
        kernel,
        strides,
        padding,
        activation="tanh",
        implementation=implementation,
        bias_initializer="random_normal",
    )
    x = np.random.default_rng(0).normal(size=(4, side, side, k * c)).astype("float32")
    y = value(layer(x))
    assert y.shape[1:] == tuple(layer.compute_output_shape(x.shape)[1:])
    for i in range(k):
        plain = keras.layers.Conv2DTranspose(f, kernel, strides, padding, activation="tanh")
        plain.build((None, side, side, c))
        plain.kernel.assign(value(layer.kernel)[..., i * c : (i + 1) * c])
        plain.bias.assign(value(layer.bias)[i * f : (i + 1) * f])
        np.testing.assert_allclose(
            y[..., i * f : (i + 1) * f],
            value(plain(x[..., i * c : (i + 1) * c])),
            rtol=1e-5,
            atol=1e-5,
        )
    # The K kernel slices are drawn independently.
    kernels = value(layer.kernel)
    assert not np.allclose(kernels[..., :c], kernels[..., c : 2 * c])


def copy_unbatched_into_batched(unbatched, batched, n):
    """Expert i's layers e{i}_<name> of `unbatched` into slice i of `batched`."""
    for layer in batched.layers:
        if not layer.weights:
            continue
        parts = [unbatched.get_layer(f"e{i}_{layer.name}") for i in range(n)]
        for j, weight in enumerate(layer.weights):
            slices = [value(p.weights[j]) for p in parts]
            if isinstance(layer, GroupedDense):  # kernel (n, d, units)
                weight.assign(np.stack(slices))
            else:  # experts side by side on the last axis
                weight.assign(np.concatenate(slices, axis=-1))


@pytest.mark.parametrize("implementation", ["matmul", "split"])
@pytest.mark.parametrize("image_shape", [(28, 28, 1), (32, 32, 3)])
def test_batched_experts_equal_unbatched_experts(implementation, image_shape):
    n = 3
    unbatched = nets.megan_experts(n, LATENT, image_shape, base_filters=4, batched=False, seed=1)
    batched = nets.megan_experts(
        n, LATENT, image_shape, base_filters=4, batched=True, implementation=implementation, seed=2
    )
    copy_unbatched_into_batched(unbatched, batched, n)
    z = np.random.default_rng(0).normal(size=(8, LATENT)).astype("float32")
    for training in (True, False):  # batch statistics, then the moving averages they updated
        for a, b in zip(unbatched(z, training=training), batched(z, training=training)):
            np.testing.assert_allclose(value(b), value(a), rtol=1e-5, atol=1e-5)
    weights = np.random.default_rng(1).normal(size=(8, n) + image_shape).astype("float32")

    def through(model):
        return lambda zz: ops.sum(ops.multiply(model(zz, training=True)[0], weights))

    np.testing.assert_allclose(
        value(input_gradient(through(batched), ops.convert_to_tensor(z))),
        value(input_gradient(through(unbatched), ops.convert_to_tensor(z))),
        rtol=1e-4,
        atol=1e-5,
    )
    assert len(batched.layers) == len(
        nets.megan_experts(2 * n, LATENT, image_shape, base_filters=4, batched=True).layers
    )  # the graph does not grow with n


def test_list_of_experts_is_accepted():
    def expert(i):
        z = keras.Input((LATENT,))
        h = keras.layers.Dense(8, activation="relu")(z)
        return keras.Model(z, [keras.layers.Dense(2)(h), h], name=f"expert{i}")

    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    model = MEGAN([expert(i) for i in range(N)], d, seed=0)
    assert model.num_generators == N and model.feature_dim == 8
    assert len(model.generator_variables()) == 4 * N
    assert model.sample_per_generator(2, seed=0).shape == (N, 2, 2)


# ------------------------------------------------------- the gated objective


def linear_discriminator(w, b):
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)], name="d")
    d.layers[-1].kernel.assign(np.asarray(w, "float32")[:, None])
    d.layers[-1].bias.assign(np.asarray([b], "float32"))
    return d


def test_gated_objective_by_hand():
    n, batch, tau, lam = 3, 5, 0.7, 2.0
    w, b = np.array([0.8, -1.3]), 0.2
    experts = nets.megan_mlp_experts(n, latent_dim=LATENT, hidden_units=(4, 4), seed=0)
    model = MEGAN(experts, linear_discriminator(w, b), lam=lam, seed=0)
    rng = np.random.default_rng(3)
    samples = rng.normal(size=(batch, n, 2)).astype("float32")
    logits = rng.normal(size=(batch, n)).astype("float32")
    noise = rng.gumbel(size=(batch, n)).astype("float32")

    y = np.exp((logits + noise) / tau)
    y /= y.sum(1, keepdims=True)
    chosen = y.argmax(1)
    onehot = np.eye(n)[chosen]
    fi = samples[np.arange(batch), chosen]  # the chosen expert's sample
    d = fi @ w + b
    adv = np.mean(np.log1p(np.exp(-d)))  # non-saturating: -log sigmoid(D(FI))
    p = onehot.mean(0)
    lb = np.sum((p - 1 / n) ** 2)

    fake, g = model.select(samples, logits, noise, tau)
    np.testing.assert_array_equal(value(g), onehot)
    np.testing.assert_allclose(value(fake), fi, rtol=1e-6)
    got_adv, got_lb = model.generator_objective(fake, g)
    np.testing.assert_allclose(float(value(got_adv)), adv, rtol=1e-5)
    np.testing.assert_allclose(float(value(got_lb)), lb, rtol=1e-5, atol=1e-7)

    def total(s, l):
        a, lbl = model.generator_objective(*model.select(s, l, noise, tau))
        return a + model.lam * lbl

    # d total / d g: the image term for every expert j (o_j against D's
    # gradient, the straight-through estimate), the balance term per column.
    dadv_dfi = -(1 / (1 + np.exp(d)))[:, None] * w / batch  # (batch, 2)
    dg = np.einsum("bd,bjd->bj", dadv_dfi, samples) + lam * 2 * (p - 1 / n) / batch
    # through y = softmax((l + a) / tau): dl_k = y_k (dg_k - sum_j dg_j y_j) / tau
    want_dl = y * (dg - (dg * y).sum(1, keepdims=True)) / tau
    got_dl = value(
        input_gradient(
            lambda l: total(ops.convert_to_tensor(samples), l), ops.convert_to_tensor(logits)
        )
    )
    np.testing.assert_allclose(got_dl, want_dl, rtol=1e-4, atol=1e-6)
    # Only the chosen expert's sample gets gradient, D's gradient at FI.
    want_ds = onehot[:, :, None] * dadv_dfi[:, None, :]
    got_ds = value(
        input_gradient(
            lambda s: total(s, ops.convert_to_tensor(logits)), ops.convert_to_tensor(samples)
        )
    )
    np.testing.assert_allclose(got_ds, want_ds, rtol=1e-4, atol=1e-7)


def flat_gradient(variables, loss):
    """d loss / d variables, flattened: loss(values) runs with the variables
    mapped to slices of one flat vector (a stateless call)."""
    sizes = [int(np.prod(v.shape)) for v in variables]
    flat = np.concatenate([value(v).ravel() for v in variables])

    def f(values):
        parts = ops.split(values, np.cumsum(sizes)[:-1].tolist())
        mapping = [(v, ops.reshape(p, v.shape)) for v, p in zip(variables, parts)]
        with keras.StatelessScope(state_mapping=mapping):
            return loss()

    return value(input_gradient(f, ops.convert_to_tensor(flat)))


def per_expert_sq_norm(variables, flat, n):
    """Squared gradient norm of each expert (the experts' axis is first)."""
    out = np.zeros(n)
    sizes = [int(np.prod(v.shape)) for v in variables]
    for v, g in zip(variables, np.split(flat, np.cumsum(sizes)[:-1])):
        out += np.square(g.reshape(v.shape)).reshape(n, -1).sum(1)
    return out


def forced_round(model, n, chosen, seed=0):
    """z and Gumbel noise for which the STGS picks `chosen` (soft y stays live)."""
    z = ops.convert_to_tensor(
        np.random.default_rng(seed).normal(size=(len(chosen), LATENT)).astype("float32")
    )
    features = model.experts(z, training=True)[1]
    logits = value(model.gate([z, features], training=True))
    # l + a = a one-hot offset: the STGS picks `chosen`, with soft y (a live
    # straight-through path from every expert's features to the logits).
    noise = (np.eye(n)[chosen] - logits).astype("float32")
    return z, ops.convert_to_tensor(noise)


CHOSEN = np.array([0, 0, 1, 1, 2, 2])  # expert 3 gets no example


def test_detached_features_only_selected_experts_get_gradient():
    n, tau = 4, 1.0
    model = toy_megan(n=n, detach_features=True)
    variables = model.experts.trainable_variables
    z, noise = forced_round(model, n, CHOSEN)

    def loss(frozen_logits=None):
        if frozen_logits is None:
            total, (_, _, g, _) = model.generator_loss(z, noise, tau)
        else:  # the same round with the gate's logits as constants
            samples, _ = model.experts(z, training=True)
            fake, g = model.select(samples, frozen_logits, noise, tau)
            adv, lb = model.generator_objective(fake, g, training=True)
            total = adv + model.lam * lb
        np.testing.assert_array_equal(value(ops.argmax(g, axis=-1)), CHOSEN)
        return total

    grad = flat_gradient(variables, loss)
    logits = model.gate([z, model.experts(z, training=True)[1]], training=True)
    frozen = flat_gradient(variables, lambda: loss(ops.stop_gradient(logits)))
    # An expert learns only from its own images: the gate path (features ->
    # gate -> STGS) carries nothing back to the experts.
    np.testing.assert_allclose(grad, frozen, rtol=1e-5, atol=1e-8)
    per_expert = per_expert_sq_norm(variables, grad, n)
    assert np.all(per_expert[:3] > 1e-10), per_expert
    assert per_expert[3] == 0.0, per_expert


def test_paper_form_reaches_every_expert_through_the_gate():
    n, tau = 4, 1.0
    model = toy_megan(n=n)
    assert not model.detach_features  # the paper's form is the default
    variables = model.experts.trainable_variables
    z, noise = forced_round(model, n, CHOSEN)

    def image_path():  # the gate's logits as constants
        samples, features = model.experts(z, training=True)
        logits = ops.stop_gradient(model.gate([z, features], training=True))
        fake, g = model.select(samples, logits, noise, tau)
        return model.generator_objective(fake, g, training=True)[0]

    # dL_adv/dl by hand (the test above): o_j against D's gradient at FI,
    # through the soft Gumbel-softmax.
    samples, features = model.experts(z, training=True)
    logits = model.gate([z, features], training=True)

    def adv_of_logits(l):
        fake, g = model.select(samples, l, noise, tau)
        return model.generator_objective(fake, g, training=True)[0]

    dl = ops.stop_gradient(input_gradient(adv_of_logits, logits))

    def gate_path():  # <dL_adv/dl, l(f(theta))>: the chain rule's gate term
        feats = model.experts(z, training=True)[1]
        return ops.sum(dl * model.gate([z, feats], training=True))

    grad = flat_gradient(variables, lambda: model.generator_loss(z, noise, tau)[0])
    want = flat_gradient(variables, image_path) + flat_gradient(variables, gate_path)
    np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-7)
    # Every expert, the one no example chose included, gets the gate's gradient.
    through_gate = per_expert_sq_norm(variables, flat_gradient(variables, gate_path), n)
    assert np.all(through_gate > 1e-12), through_gate


@pytest.mark.parametrize("detach", [False, True])
def test_load_balancing_reaches_the_gate_but_never_the_experts(detach):
    n, tau = 4, 1.0
    model = toy_megan(n=n, detach_features=detach)
    z, noise = forced_round(model, n, CHOSEN)  # unbalanced: L_LB > 0

    def loss():
        return model.generator_loss(z, noise, tau)[0]

    grads = {}
    for lam in (0.0, 100.0):
        model.lam = lam
        grads[lam] = [
            flat_gradient(model.experts.trainable_variables, loss),
            flat_gradient(model.gate.trainable_variables, loss),
        ]
    np.testing.assert_allclose(grads[100.0][0], grads[0.0][0], rtol=1e-5, atol=1e-8)
    assert np.abs(grads[100.0][1] - grads[0.0][1]).max() > 1e-4


# ---------------------------------------------------------------- training


def test_every_optimizer_advances_under_fit_gate_included():
    model = toy_megan()
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    assert set(model.player_variables()) == {"discriminator", "generator", "gate"}
    steps, batch = 5, 16
    x = np.random.default_rng(0).normal(size=(steps * batch, 2)).astype("float32")
    assert_every_player_advances(model, x, steps, batch)
    # The schedule follows the round counter.
    np.testing.assert_allclose(
        float(value(model.temperature())), 0.5 * np.exp(-0.001 * steps), rtol=1e-5
    )


def test_wgan_gp_and_logs():
    model = toy_megan(loss="wasserstein", d_steps=2)
    assert model.gradient_penalty == 10.0
    model.compile(
        keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
        keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
    )
    x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    history = model.fit(x, batch_size=8, epochs=1, verbose=0).history
    for name in ["d_loss", "g_loss", "lb_loss", "temperature"] + [f"usage_{i}" for i in range(N)]:
        assert np.isfinite(history[name]).all(), name
    np.testing.assert_allclose(sum(history[f"usage_{i}"][-1] for i in range(N)), 1.0, rtol=1e-5)


def test_construction_errors():
    experts = nets.megan_mlp_experts(N, latent_dim=LATENT, hidden_units=(8,))
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="gate"):
        MEGAN(experts, d, gate=nets.megan_gate(N + 1, LATENT, 8))
    with pytest.raises(ValueError, match="experts"):
        MEGAN(keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(2)]), d)
    with pytest.raises(ValueError, match="min_temperature"):
        MEGAN(experts, d, min_temperature=0.0)


def test_ring_of_8_coverage_improves_with_4_generators():
    model = toy_megan(n=4, hidden=128, latent=8, seed=1, gate_units=(16, 32))
    before, after = ring_coverage_before_after(model, steps=800)
    assert after["modes_covered"] > before, (before, after["modes_covered"])
    assert after["modes_covered"] >= 3
