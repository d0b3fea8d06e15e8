"""MAD-GAN: K generators against one (K+1)-way discriminator (Ghosh et al., CVPR 2018).

Players: K generators G_1..G_K that share their early layers and differ in
the last (`kmgan.nets.madgan_generator`; `unshared="all"` MLPs or a list of
K independent models also work: weight sharing is a choice, as Reinhart's
thesis discusses), and one discriminator D with K+1 softmax outputs:
D_k(x) for k < K is the probability that G_k made x, D_K(x) (the paper's
D_{k+1}) the probability that x is real.

D's objective (Ghosh et al. section 3.1; a (K+1)-way cross-entropy whose
target is "real" for data and "G_k" for G_k's samples):

    max_D  E_{x ~ p_data}[log D_K(x)] + sum_k E_{x ~ p_Gk}[log D_k(x)]

Each generator's objective is the GAN generator's against the "real" class:

    min_{G_k}  E_{z}[log(1 - D_K(G_k(z)))]          ("minimax")
    max_{G_k}  E_{z}[log D_K(G_k(z))]               ("non_saturating", the
                                                     paper's practice; default)

One round:

    fakes: block k of the batch from G_k (the same count per generator)
    D descends   E_data[-log D_K(x)] + sum_k E_{G_k}[-log D_k(x)]
    G descends   sum_k E_{G_k}[-log D_K(x)]           (fresh z; the sum of
                                                      the K generators' own
                                                      objectives, so each
                                                      head gets its own
                                                      gradient)

At the optimum D_K(x) = p_data / (p_data + sum_k p_Gk) and D_k(x) =
p_Gk / (p_data + sum_k p_Gk): to fool D, generator k must move its samples
where D cannot tell them from data nor attribute them to G_k, which pushes
the generators towards different modes.

For GAM battles the MAD-GAN's discriminator is P(real | x) = D_K(x), the
softmax probability of the real class.
"""

import keras
from keras import ops

from kmgan.games.base import real_data
from kmgan.games.multi import MultiGeneratorGame
from kmgan.games.multi import per_generator_mean

GENERATOR_LOSSES = ("non_saturating", "minimax")


def discriminator_targets(num_generators, assignment=None, batch_size=None):
    """D's (K+1)-way one-hot targets: "real" (class K) or "made by G_k".

    Args:
        num_generators: K.
        assignment: (batch, K) one-hot of fake examples' generators; None
            for real examples.
        batch_size: number of real examples (with `assignment=None`).

    Returns:
        (batch, K+1) one-hot targets.
    """
    k = num_generators
    if assignment is None:
        return ops.one_hot(ops.full((batch_size,), k, dtype="int32"), k + 1)
    assignment = ops.cast(assignment, "float32")
    return ops.concatenate([assignment, ops.zeros_like(assignment[:, :1])], axis=-1)


def discriminator_loss(real_logits, fake_logits, assignment):
    """E_data[-log D_K(x)] + sum_k E_{G_k}[-log D_k(x)] from (K+1)-way logits.

    Args:
        real_logits: (batch, K+1) D logits on real examples.
        fake_logits: (batch', K+1) D logits on fake examples.
        assignment: (batch', K) one-hot: which generator made each fake.
    """
    real_logits = ops.cast(real_logits, "float32")
    fake_logits = ops.cast(fake_logits, "float32")
    k = int(assignment.shape[-1])
    real_nll = -ops.log_softmax(real_logits, axis=-1)[:, k]
    targets = discriminator_targets(k, assignment)
    fake_nll = -ops.sum(targets * ops.log_softmax(fake_logits, axis=-1), axis=-1)
    return ops.mean(real_nll) + ops.sum(per_generator_mean(fake_nll, assignment))


def generator_loss(fake_logits, assignment, loss="non_saturating"):
    """sum_k of G_k's objective on its examples, from (K+1)-way logits.

    "non_saturating": sum_k E_{G_k}[-log D_K(x)];
    "minimax":        sum_k E_{G_k}[log(1 - D_K(x))].
    """
    if loss not in GENERATOR_LOSSES:
        raise ValueError(f"loss must be one of {GENERATOR_LOSSES}, got {loss!r}.")
    fake_logits = ops.cast(fake_logits, "float32")
    k = int(assignment.shape[-1])
    if loss == "non_saturating":
        per_example = -ops.log_softmax(fake_logits, axis=-1)[:, k]
    else:  # log(1 - D_K) = logsumexp(l_{<K}) - logsumexp(l)
        per_example = ops.logsumexp(fake_logits[:, :k], axis=-1) - ops.logsumexp(
            fake_logits, axis=-1
        )
    return ops.sum(per_generator_mean(per_example, assignment))


@keras.saving.register_keras_serializable(package="kmgan")
class MADGAN(MultiGeneratorGame):
    """Multi-agent diverse GAN.

    Args:
        generator: a multi-generator model `[z, one-hot] -> x` (e.g.
            `kmgan.nets.madgan_generator`, `madgan_mlp_generator`, or
            `multi_mlp_generator(unshared="all")`), or a list of K
            independent models z -> x.
        discriminator: model x -> (K+1,) logits (class K: real), e.g.
            `kmgan.nets.madgan_discriminator`.
        loss: the generators' objective, "non_saturating" or "minimax".
        d_steps: discriminator steps per generator step.
        samples_per_generator: fakes per generator per round (default
            ceil(batch / K)).
        same_noise: the same z for every generator in a round.
        seed: seed of the game's noise.
        name: model name.
    """

    log_names = ("d_loss", "g_loss")
    network_args = ("generator", "discriminator")

    def __init__(
        self,
        generator,
        discriminator,
        loss="non_saturating",
        d_steps=1,
        samples_per_generator=None,
        same_noise=False,
        seed=None,
        name="madgan",
    ):
        super().__init__(generator, samples_per_generator=samples_per_generator,
                         same_noise=same_noise, seed=seed, name=name)
        if loss not in GENERATOR_LOSSES:
            raise ValueError(f"loss must be one of {GENERATOR_LOSSES}, got {loss!r}.")
        if int(d_steps) < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps}.")
        _check_discriminator(discriminator, self.data_shape, self.num_generators)
        self.discriminator = discriminator
        self.generator_objective = loss
        self.d_steps = int(d_steps)

    def game_config(self):
        return {
            "loss": self.generator_objective,
            "d_steps": self.d_steps,
            "samples_per_generator": self.samples_per_generator,
            "same_noise": self.same_noise,
        }

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Args: one optimizer per player; kwargs as `GameModel.compile`."""
        super().compile({"discriminator": d_optimizer, "generator": g_optimizer}, **kwargs)

    def player_variables(self):
        return {
            "discriminator": self.discriminator.trainable_variables,
            "generator": self.generator_variables(),
        }

    def play(self, data):
        real = real_data(data)
        per_gen = self.block_size(ops.shape(real)[0])
        D = self.discriminator

        for _ in range(self.d_steps):
            z = self.block_noise(per_gen)
            fake, assignment = self.generate_blocks(z, per_gen, training=True)
            fake = ops.stop_gradient(fake)
            d_loss = self.minimize(
                "discriminator",
                lambda: discriminator_loss(
                    D(real, training=True), D(fake, training=True), assignment
                ),
            )

        z = self.block_noise(per_gen)

        def g_loss_fn():
            fake, assignment = self.generate_blocks(z, per_gen, training=True)
            return generator_loss(D(fake, training=True), assignment, self.generator_objective)

        g_loss = self.minimize("generator", g_loss_fn)
        return {"d_loss": d_loss, "g_loss": g_loss}

    def real_probability(self, x):
        logits = self.discriminator(x, training=False)
        return ops.softmax(logits, axis=-1)[:, self.num_generators]

    def attribute(self, x):
        """D's (K+1)-way softmax on a batch: P(G_0), ..., P(G_{K-1}), P(real)."""
        return ops.softmax(self.discriminator(x, training=False), axis=-1)


def _check_discriminator(discriminator, data_shape, k):
    if not isinstance(discriminator, keras.Model):
        raise TypeError(f"The discriminator must be a keras.Model, got {type(discriminator)}.")
    in_shape = tuple(discriminator.inputs[0].shape[1:])
    if in_shape != tuple(data_shape):
        raise ValueError(
            f"The discriminator takes inputs of shape {in_shape} but the "
            f"generators produce {tuple(data_shape)}."
        )
    outs = [tuple(o.shape[1:]) for o in discriminator.outputs]
    if outs != [(k + 1,)]:
        raise ValueError(
            f"MAD-GAN's discriminator returns K+1 = {k + 1} logits (class {k}: "
            f"real); got outputs {outs}."
        )
