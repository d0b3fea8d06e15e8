"""Adversarial losses on discriminator logits.

Every loss is an `AdversarialLoss` with two methods:
`discriminator(real_logits, fake_logits)` and `generator(fake_logits)`, both
returning a scalar to minimise. `generator_per_example` returns the
generator's loss per example, for games that weight examples.

| name            | discriminator minimises                        | generator minimises       |
| --------------- | ---------------------------------------------- | ------------------------- |
| `minimax`       | -log s(r) - log(1 - s(f))                      | log(1 - s(f))  (saturating) |
| `non_saturating`| -log s(r) - log(1 - s(f))                      | -log s(f)                 |
| `least_squares` | ((r - 1)^2 + f^2) / 2                          | (f - 1)^2 / 2             |
| `hinge`         | relu(1 - r) + relu(1 + f)                      | -f                        |
| `wasserstein`   | f - r                                          | -f                        |

(s is the sigmoid, r and f the logits on real and generated data.) One-sided
label smoothing (Salimans et al. 2016; the GMAN report's "soft labels")
replaces the real target 1 by `1 - label_smoothing` in the discriminator's
cross-entropy or least-squares loss.
"""

from keras import ops

LOSSES = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein")


class AdversarialLoss:
    """One of the adversarial losses above.

    Args:
        name: one of `kmgan.losses.LOSSES`.
        label_smoothing: one-sided smoothing of the real target, in [0, 1).
            Only for the cross-entropy and least-squares losses.
    """

    def __init__(self, name="non_saturating", label_smoothing=0.0):
        if name not in LOSSES:
            raise ValueError(f"Unknown loss '{name}'; choose one of {LOSSES}.")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}.")
        if label_smoothing and name in ("hinge", "wasserstein"):
            raise ValueError(f"label_smoothing has no meaning for the {name} loss.")
        self.name = name
        self.label_smoothing = float(label_smoothing)

    def discriminator(self, real_logits, fake_logits, axis=None):
        """Discriminator loss, a scalar.

        With `axis` (e.g. 0 for (batch, N) logits of N discriminators), the
        logits are not flattened and the means run over `axis` only: one
        loss per remaining entry (N losses), each the scalar loss of that
        column.
        """
        r, f = _flat(real_logits, axis), _flat(fake_logits, axis)
        target = 1.0 - self.label_smoothing

        def mean(x):
            return ops.mean(x, axis=axis)

        if self.name in ("minimax", "non_saturating"):
            # -[t log s(r) + (1 - t) log(1 - s(r))] - log(1 - s(f))
            real = target * ops.softplus(-r) + (1.0 - target) * ops.softplus(r)
            return mean(real) + mean(ops.softplus(f))
        if self.name == "least_squares":
            return 0.5 * (mean(ops.square(r - target)) + mean(ops.square(f)))
        if self.name == "hinge":
            return mean(ops.relu(1.0 - r)) + mean(ops.relu(1.0 + f))
        return mean(f) - mean(r)

    def generator_per_example(self, fake_logits, axis=None):
        """Generator loss for each example, shape (batch,) (with `axis`,
        the logits' own shape: per example and discriminator)."""
        f = _flat(fake_logits, axis)
        if self.name == "minimax":
            return -ops.softplus(f)  # log(1 - s(f))
        if self.name == "non_saturating":
            return ops.softplus(-f)  # -log s(f)
        if self.name == "least_squares":
            return 0.5 * ops.square(f - 1.0)
        return -f

    def generator(self, fake_logits, axis=None):
        """Generator loss, a scalar (with `axis`, one per column as in
        `discriminator`)."""
        return ops.mean(self.generator_per_example(fake_logits, axis), axis=axis)

    def __repr__(self):
        return f"AdversarialLoss({self.name!r}, label_smoothing={self.label_smoothing})"


def get(loss, label_smoothing=0.0):
    """Returns an `AdversarialLoss` from a name or passes one through."""
    if isinstance(loss, AdversarialLoss):
        return loss
    return AdversarialLoss(loss, label_smoothing=label_smoothing)


def gradient_penalty(discriminator, real, fake, seed_generator, target=1.0):
    """WGAN-GP penalty E[(||grad_x D(x_hat)||_2 - target)^2] (Gulrajani 2017).

    x_hat = real + eps * (fake - real) with eps ~ U[0, 1] per example, drawn
    from `seed_generator`. D is evaluated in inference mode
    (`training=False`): the penalty is a function of D's current weights
    with no side effects (no batch-norm statistics, no spectral-norm power
    iteration), identically on every backend, and per example (batch norm
    in training mode would couple the examples of x_hat). The gradient
    comes from `kmgan.engine.input_gradient`, so it can sit inside any
    player's loss.

    Args:
        discriminator: the critic: a `keras.Model` or any callable
            `discriminator(x, training=False)` returning one logit per
            example (a head of a multi-output model, a column of a stacked
            one).
        real: a batch of real examples.
        fake: fakes of the same shape.
        seed_generator: a `keras.random.SeedGenerator` for eps.
        target: the gradient norm the penalty pulls towards (1).

    Returns:
        A scalar tensor (unweighted).
    """
    import keras

    from kmgan.engine import input_gradient  # imported here to avoid an import cycle

    real, fake = ops.convert_to_tensor(real), ops.convert_to_tensor(fake)
    batch = ops.shape(real)[0]
    eps = keras.random.uniform((batch,) + (1,) * (len(real.shape) - 1), seed=seed_generator)
    x_hat = real + eps * (fake - real)
    grads = input_gradient(lambda x: ops.sum(discriminator(x, training=False)), x_hat)
    norms = ops.sqrt(ops.sum(ops.square(ops.reshape(grads, (batch, -1))), axis=-1) + 1e-12)
    return ops.mean(ops.square(norms - target))


def r1_penalty(discriminator, real):
    """R1 penalty E[||grad_x D(x)||_2^2] over real x (Mescheder et al. 2018).

    Unweighted: the regularizer is gamma / 2 times this. D is evaluated in
    inference mode, as for `gradient_penalty` (a function of D's weights
    with no side effects, per example).

    Args:
        discriminator: a `keras.Model` or callable `discriminator(x,
            training=False)` returning one logit per example.
        real: a batch of real examples.

    Returns:
        A scalar tensor.
    """
    from kmgan.engine import input_gradient  # imported here to avoid an import cycle

    batch = ops.shape(real)[0]
    grads = input_gradient(lambda x: ops.sum(discriminator(x, training=False)), real)
    return ops.mean(ops.sum(ops.square(ops.reshape(grads, (batch, -1))), axis=-1))


def _flat(logits, axis=None):
    logits = ops.cast(logits, "float32")
    return ops.reshape(logits, (-1,)) if axis is None else logits
