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

**MAD-GAN-Sim** (Ghosh et al. 2018, section 3.2; `similarity=lambda > 0`):
each generator's objective gains a competing term built on D's features
phi (its penultimate layer) for the *same* z. Generator i should make
samples that D finds more real than generator j's by a margin that grows
with how alike the two are,

    D(G_i(z)) - D(G_j(z)) >= nu * cos(phi(G_i(z)), phi(G_j(z)))   for all j != i,

with D(x) = D_K(x), the probability of "real", and nu the `margin`. The
constraints enter as hinges averaged over the other generators:

    L_i += lambda * E_z[ 1/(K-1) sum_{j != i}
                         max(0, nu * cos(phi_i, sg(phi_j)) - (D(G_i(z)) - sg(D(G_j(z))))) ]

where sg (stop-gradient) keeps generator j's quantities fixed in generator
i's objective (each generator minimises its own). Two generators that draw
the same image for the same z cannot both satisfy their constraints, so the
term pushes their D features apart. With the term on, every generator gets
the same z in the generators' step.

For GAM battles the MAD-GAN's discriminator is P(real | x) = D_K(x), the
softmax probability of the real class.
"""

import keras
from keras import ops

from kmgan.games.base import check_input_shape
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


def similarity_loss(real_prob, features, num_generators, margin=1.0):
    """MAD-GAN-Sim's competing term, summed over the K generators.

    The fakes are laid out in K blocks of n, block k made by G_k, with the
    same z in row m of every block (G_0(z_m), ..., G_{K-1}(z_m)).

        sum_i E_m[ 1/(K-1) sum_{j != i}
                   max(0, margin * cos(f_im, sg(f_jm)) - (p_im - sg(p_jm))) ]

    Args:
        real_prob: (K*n,) D's probability that each fake is real.
        features: (K*n, F) D's features of each fake (any shape (K*n, ...),
            flattened).
        num_generators: K (at least 2).
        margin: nu, the margin per unit of cosine similarity.

    Returns:
        A scalar: the sum over generators of each one's term. Its gradient
        reaches generator i only through G_i's own samples.
    """
    k = int(num_generators)
    if k < 2:
        raise ValueError(f"The similarity term needs K >= 2 generators, got {k}.")
    p = ops.reshape(ops.cast(real_prob, "float32"), (k, -1))  # (K, n)
    f = ops.reshape(ops.cast(features, "float32"), (k, ops.shape(p)[1], -1))  # (K, n, F)
    unit = f / ops.sqrt(ops.sum(ops.square(f), axis=-1, keepdims=True) + 1e-12)
    cos = ops.einsum("imf,jmf->ijm", unit, ops.stop_gradient(unit))  # (K, K, n)
    gap = p[:, None, :] - ops.stop_gradient(p)[None, :, :]  # p_i - p_j
    hinge = ops.relu(float(margin) * cos - gap)
    others = 1.0 - ops.eye(k, dtype="float32")
    per_generator = ops.sum(hinge * others[:, :, None], axis=1) / (k - 1)  # (K, n)
    return ops.sum(ops.mean(per_generator, axis=1))


def penultimate_features(discriminator):
    """A model x -> [D's logits, D's features phi(x)] sharing D's layers.

    phi is the input of D's output layer (for `madgan_discriminator`, the
    flattened last conv block).
    """
    try:
        output_layer = discriminator.layers[-1]
        features = output_layer.input
    except (AttributeError, IndexError, ValueError) as error:
        raise ValueError(
            "MAD-GAN-Sim reads D's features from the input of its output layer: "
            "the discriminator must be a functional keras.Model."
        ) from error
    if isinstance(features, (list, tuple)):
        raise ValueError(
            f"D's output layer {output_layer.name!r} takes several inputs; MAD-GAN-Sim "
            "needs one feature tensor."
        )
    inputs = discriminator.inputs
    inputs = inputs[0] if len(inputs) == 1 else inputs
    return keras.Model(
        inputs, [discriminator.outputs[0], features], name=f"{discriminator.name}_features"
    )


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
        similarity: lambda, the weight of MAD-GAN-Sim's competing term
            (0: plain MAD-GAN). With it on the game logs "g_sim" and the
            generators' step draws one z for all generators.
        margin: nu, MAD-GAN-Sim's margin per unit of cosine similarity of
            D's features.
        seed: seed of the game's noise.
        name: model name.
        **kwargs: `kmgan.games.multi.MultiGeneratorGame`'s
            `samples_per_generator` (fakes per generator per round, default
            ceil(batch / K)) and `same_noise` (the same z for every
            generator in a round), and the shared hooks
            (`kmgan.games.hooks`): `evaluator`, `score_weight`, `score_cap`,
            `gp_weight` (its critic is D's real-vs-fake log-odds,
            log D_K / (1 - D_K)).

    `compile()` without optimizers gives both players Adam(2e-4,
    beta_1=0.5), the DCGAN setting kmgan's MAD-GAN recipes use.
    """

    log_names = ("d_loss", "g_loss")

    def __init__(
        self,
        generator,
        discriminator,
        loss="non_saturating",
        d_steps=1,
        similarity=0.0,
        margin=1.0,
        seed=None,
        name="madgan",
        **kwargs,
    ):
        similarity, margin = float(similarity), float(margin)
        names = MADGAN.log_names + (("g_sim",) if similarity else ())
        super().__init__(
            generator, d_steps=d_steps, log_names=names, seed=seed, name=name, **kwargs
        )
        if similarity < 0 or margin < 0:
            raise ValueError(f"similarity and margin must be >= 0; got {similarity} and {margin}.")
        if similarity and self.num_generators < 2:
            raise ValueError("MAD-GAN-Sim (similarity > 0) needs K >= 2 generators.")
        if loss not in GENERATOR_LOSSES:
            raise ValueError(f"loss must be one of {GENERATOR_LOSSES}, got {loss!r}.")
        _check_discriminator(discriminator, self.data_shape, self.num_generators)
        self.discriminator = discriminator
        self.generator_objective = loss
        self.similarity = similarity
        self.margin = margin
        if similarity:
            # Shares D's layers; kept out of Keras' tracking so D's variables
            # are not listed twice in the game's state.
            object.__setattr__(self, "_d_features", penultimate_features(discriminator))

    def game_config(self):
        return {
            "loss": self.generator_objective,
            "samples_per_generator": self.samples_per_generator,
            "same_noise": self.same_noise,
            "similarity": self.similarity,
            "margin": self.margin,
        }

    def play(self, data):
        real = real_data(data)
        per_gen = self.block_size(ops.shape(real)[0])
        D = self.judged(self.discriminator)

        for _ in range(self.d_steps):
            fake, assignment = self.d_step_fakes(per_gen)
            d_loss = self.minimize(
                "discriminator",
                lambda: (
                    discriminator_loss(D(real, training=True), D(fake, training=True), assignment)
                    + self.gp_weight * self.penalty(self._real_critic, real, fake)
                    + self.d_regularizers(self._real_critic, real, fake)
                ),
            )

        if self.similarity:  # the competing term compares G_i(z) with G_j(z)
            z = ops.tile(self.sample_z(per_gen), (self.num_generators, 1))
        else:
            z = self.block_noise(per_gen)

        def g_loss_fn():
            fake, assignment = self.generate_blocks(z, per_gen, training=True)
            if not self.similarity:
                return self.guide(
                    generator_loss(D(fake, training=True), assignment, self.generator_objective),
                    fake,
                    real,
                )
            logits, features = self._d_features(fake, training=True)
            adv = generator_loss(logits, assignment, self.generator_objective)
            real_prob = ops.softmax(ops.cast(logits, "float32"), axis=-1)[:, self.num_generators]
            sim = similarity_loss(real_prob, features, self.num_generators, self.margin)
            return self.guide(adv + self.similarity * sim, fake, real), sim

        if not self.similarity:
            return {"d_loss": d_loss, "g_loss": self.minimize("generator", g_loss_fn)}
        g_loss, g_sim = self.minimize("generator", g_loss_fn)
        return {"d_loss": d_loss, "g_loss": g_loss, "g_sim": g_sim}

    def real_probability(self, x):
        logits = self.discriminator(x, training=False)
        return ops.softmax(logits, axis=-1)[:, self.num_generators]

    def _real_critic(self, x, training=False):
        # D's real-vs-fake log-odds log D_K / (1 - D_K): the penalty's critic.
        logits = ops.cast(self.discriminator(x, training=training), "float32")
        k = self.num_generators
        return logits[:, k] - ops.logsumexp(logits[:, :k], axis=-1)

    def attribute(self, x):
        """D's (K+1)-way softmax on a batch: P(G_0), ..., P(G_{K-1}), P(real)."""
        return ops.softmax(self.discriminator(x, training=False), axis=-1)


def _check_discriminator(discriminator, data_shape, k):
    check_input_shape(discriminator, data_shape, "discriminator", maker="the generators produce")
    outs = [tuple(o.shape[1:]) for o in discriminator.outputs]
    if outs != [(k + 1,)]:
        raise ValueError(
            f"MAD-GAN's discriminator returns K+1 = {k + 1} logits (class {k}: "
            f"real); got outputs {outs}."
        )
