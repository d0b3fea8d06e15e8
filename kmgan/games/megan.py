"""MEGAN: a mixture of expert generators chosen by a gating network (Park et al.).

Players: n generators (experts) G_i, each returning its sample o_i and a
feature vector f_i (`kmgan.nets.megan_experts`); a gating network GN
(`kmgan.nets.megan_gate`) mapping [z, f_1, ..., f_n] to logits l over the
experts; one discriminator D.

One round (Algorithm 1 of the paper):

    tau = max(0.5 * exp(-0.001 * iteration), min_temperature)
    for each z_i of a batch Z:                         (all experts, one pass)
        (f_ij, o_ij) = G_j(z_i)            for j = 1..n
        l_i = GN(z_i, f_i1, ..., f_in)
        g_i = STGS(l_i, tau)               one-hot forward, Gumbel-softmax
                                           gradient backward
        FI_i = sum_j g_ij o_ij             the fake image
    D descends        L_adv^D(D(x), D(FI))  (+ 10 * gradient penalty with the
                                            Wasserstein loss: WGAN-GP)
    G_1..G_n descend  L_adv^G(D(FI))
    GN descends       L_adv^G(D(FI)) + lambda * L_LB,
                      L_LB = sum_i (p_i - 1/n)^2, p_i = share of the batch
                      assigned to G_i (eq. 9)

The generators and the gate move together, on gradients taken at the same
point (Algorithm 1 computes FI once and trains on it): one backward pass
of L_adv + lambda * L_LB in which L_LB reaches the gate but not the
generators (the gate is run a second time on stop-gradient features for
L_LB; see `mixture`). With `d_steps` = 1 the round's fake batch (z and
Gumbel noise) is the one D trained on, as in Algorithm 1; with more D
steps (WGAN-GP's 5) each D step draws fresh noise and the generator step
reuses the last.

Which gradient reaches the experts. D sees FI, the chosen expert's image
(eq. 6, Fig. 2), and FI's gradient reaches the chosen expert only (g is
one-hot in the forward pass). But the gate reads every expert's features
f_j (eq. 5), so the full gradient of L_adv (Algorithm 1, line 18, read
literally) also reaches all n experts through GN and the STGS, for every
z, chosen or not: it moves f_j to change the gate's logits, not o_j to
fool D. That is the default (`detach_features=False`), the paper's form
as we read it; the authors' code (heykeetae/MEGAN) was not available to
check it. `detach_features=True` stops that path: the gate reads
stop-gradient features, an expert learns only from the images the gate
chose it for, and the gate still learns which expert's image suits z
(the straight-through gradient reaches its weights). On full MNIST (10
experts, width 32, batch 64, issue 17) the gate path's gradient norm was
2.1-3.5x the image path's over rounds 250-1,000, and above 1 at every
temperature the schedule passes through in that time (at fixed weights,
tau 0.5 / 0.18: 2.2 / 3.9 at round 250, 1.9 / 1.8 at 500, 2.2 / 3.8 at
750). After 3 epochs (2,811 rounds) in the paper's form the weakest
expert's classifier confidence was 0.14, D's loss 0.08 and the 2015-Inception
FID 121.6; with `detach_features=True` 0.79, 0.46 (DCGAN's 0.58) and 57.0,
better than DCGAN's 64.6 (the README's MEGAN section has the tables). Use
`detach_features=True` for images.

The gate's assignment is what makes the experts specialise: an expert
improves on the z the gate gives it, and the gate learns (through the
straight-through gradient) which expert makes the most convincing image
for z. Defaults from the paper: n in {3, 5, 10}, batch 64, lambda = 100,
m = 100, the DCGAN loss or WGAN-GP.

For GAM battles the MEGAN's discriminator is D: P(real | x) = sigmoid(D(x)).
The sampler (`export_sampler`) picks the expert as the game does: a
Gumbel-max sample from softmax(l), or the expert you name.
"""

import keras
from keras import layers
from keras import ops

from kmgan import losses
from kmgan.games.base import adam
from kmgan.games.base import check_discriminator
from kmgan.games.base import real_data
from kmgan.games.gumbel import gumbel_noise
from kmgan.games.gumbel import load_balancing_loss
from kmgan.games.gumbel import megan_temperature
from kmgan.games.gumbel import straight_through_gumbel_softmax
from kmgan.games.multi import SAMPLER_INDEX
from kmgan.games.multi import MultiGeneratorGame
from kmgan.layers.choice import GumbelChoice
from kmgan.layers.choice import SelectGenerator
from kmgan.nets.megan import megan_gate


@keras.saving.register_keras_serializable(package="kmgan")
class MEGAN(MultiGeneratorGame):
    """Mixture-of-experts GAN with a Gumbel-softmax gate.

    Args:
        experts: one `keras.Model` z -> `[samples (n, ...), features (n, k)]`
            (e.g. `kmgan.nets.megan_experts`, `megan_mlp_experts`), or a list
            of n models z -> `[sample, feature map]`.
        discriminator: `keras.Model` x -> one logit.
        gate: `keras.Model` `[z, features (n, k)]` -> n logits; default
            `kmgan.nets.megan_gate(n, latent_dim, k)`.
        lam: lambda, the weight of the load-balancing loss (100).
        loss: adversarial loss (name in `kmgan.losses.LOSSES`): the DCGAN
            loss "non_saturating" (default) or "wasserstein" for WGAN-GP.
        label_smoothing: one-sided smoothing of D's real target.
        d_steps: discriminator steps per round (WGAN-GP uses 5).
        initial_temperature, temperature_decay, min_temperature: the
            schedule tau = max(initial * exp(-decay * iteration), min).
        detach_features: the gate reads the experts' features through a
            stop-gradient, so each expert learns only from the images the
            gate chose it for (kmgan's fix for images, issue 17; see the
            module docstring). False (default): the paper's Algorithm 1,
            where L_adv also reaches every expert through the gate.
        seed: seed of the game's noise.
        name: model name.
        **hooks: the shared hooks (`kmgan.games.hooks`): `gp_weight`, the
            WGAN-GP weight (None: 10 with the Wasserstein loss, else 0;
            `gradient_penalty=` is its deprecated alias), `evaluator`,
            `score_weight`, `score_cap`.

    `compile()` without optimizers gives every player Adam(2e-4, beta_1=0.5)
    (beta_2 = 0.9 with the Wasserstein loss, WGAN-GP's); the gate's
    optimizer defaults to a clone of the generators' when that is given.
    """

    network_args = ("experts", "discriminator", "gate")
    optimizer_roles = ("discriminator", "generator", "gate")
    tied_optimizers = {"gate": "generator"}

    def __init__(
        self,
        experts,
        discriminator,
        gate=None,
        lam=100.0,
        loss="non_saturating",
        label_smoothing=0.0,
        d_steps=1,
        initial_temperature=0.5,
        temperature_decay=1e-3,
        min_temperature=1e-3,
        detach_features=False,
        seed=None,
        name="megan",
        **hooks,
    ):
        experts = _as_experts_model(experts)
        n = int(experts.outputs[0].shape[1])
        log_names = ["d_loss", "g_loss", "lb_loss", "temperature"]
        log_names += [f"usage_{i}" for i in range(n)]
        super().__init__(
            experts, d_steps=d_steps, log_names=log_names, seed=seed, name=name, **hooks
        )
        if gate is None:
            gate = megan_gate(
                n, self.latent_dim, self.feature_dim, seed=None if seed is None else seed + 1
            )
        _check_gate(gate, n, self.latent_dim, self.feature_dim)
        self.gate = gate
        check_discriminator(discriminator, self.data_shape)
        self.discriminator = discriminator
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}.")
        self.lam = float(lam)
        self.loss = losses.get(loss, label_smoothing)
        self.initial_temperature = float(initial_temperature)
        self.temperature_decay = float(temperature_decay)
        self.min_temperature = float(min_temperature)
        if not self.min_temperature > 0:
            raise ValueError("min_temperature must be > 0 (tau divides the logits).")
        self.detach_features = bool(detach_features)

    def game_config(self):
        return {
            "lam": self.lam,
            "loss": self.loss.name,
            "label_smoothing": self.loss.label_smoothing,
            "initial_temperature": self.initial_temperature,
            "temperature_decay": self.temperature_decay,
            "min_temperature": self.min_temperature,
            "detach_features": self.detach_features,
        }

    def _set_generator(self, experts):
        # The n experts in one model z -> [samples (n, ...), features (n, k)].
        self.experts = experts
        self.generator = None
        self.generators = None
        self.num_generators = int(experts.outputs[0].shape[1])
        self.latent_dim = int(experts.inputs[0].shape[-1])
        self._data_shape = tuple(experts.outputs[0].shape[2:])
        self.feature_dim = int(experts.outputs[1].shape[-1])

    def default_optimizers(self):
        beta_2 = 0.9 if self.loss.name == "wasserstein" else 0.999
        return {role: adam(2e-4, beta_1=0.5, beta_2=beta_2) for role in self.optimizer_roles}

    def player_variables(self):
        return {
            "discriminator": self.discriminator.trainable_variables,
            "generator": self.generator_variables(),
            "gate": self.gate.trainable_variables,
        }

    def generator_variables(self):
        return list(self.experts.trainable_variables)

    def generator_networks(self):
        """The experts and the gate: both shape a sample (see `use_ema`)."""
        return [self.experts, self.gate]

    def temperature(self):
        """tau for the current round (from the game's round counter)."""
        return megan_temperature(
            self.optimizer.iterations,
            self.initial_temperature,
            self.temperature_decay,
            self.min_temperature,
        )

    def mixture(self, z, noise, temperature, training=False, balance=False):
        """FI = sum_j g_j o_j for a batch z.

        With `detach_features` the gate reads stop-gradient features, so an
        expert's weights get gradient only from its own image, where the gate
        selected it; otherwise (the paper's form) L_adv also reaches every
        expert through the gate's reading of its features f_j.

        Args:
            z: (batch, latent_dim).
            noise: (batch, n) Gumbel noise of the STGS.
            temperature: tau.
            training: training flag of the experts and the gate.
            balance: also return the assignments for L_LB, which reach the
                gate but never the experts' features.

        Returns:
            `(fake, assignment)`: the (batch, ...) fake images and the
            (batch, n) straight-through one-hot assignments g; with
            `balance`, `(fake, assignment, balance_assignment)` (equal
            values; the last carries L_LB's gradient to the gate only).
        """
        samples, features = self.experts(z, training=training)
        if self.detach_features:
            logits = self.gate([z, ops.stop_gradient(features)], training=training)
            fake, g = self.select(samples, logits, noise, temperature)
            return (fake, g, g) if balance else (fake, g)
        logits = self.gate([z, features], training=training)
        fake, g = self.select(samples, logits, noise, temperature)
        if not balance:
            return fake, g
        # The gate again on stop-gradient features, for L_LB. Not one call on
        # [f, stop_gradient(f)]: batch norm's statistics over both halves
        # would pass on only half of their gradient to f. The second call's
        # (equal) batch statistics also update the gate's moving averages.
        balance_logits = self.gate([z, ops.stop_gradient(features)], training=training)
        return fake, g, straight_through_gumbel_softmax(balance_logits, temperature, noise)

    def select(self, samples, logits, noise, temperature):
        """STGS assignments g from the gate's logits and FI = sum_j g_j o_j.

        Args:
            samples: (batch, n, ...) every expert's output o_j.
            logits: (batch, n) the gate's logits l.
            noise: (batch, n) Gumbel noise.
            temperature: tau.

        Returns:
            `(fake, assignment)` as `mixture`.
        """
        g = straight_through_gumbel_softmax(logits, temperature, noise)
        shape = (-1, self.num_generators) + (1,) * len(self.data_shape)
        weights = ops.reshape(ops.cast(g, samples.dtype), shape)
        return ops.sum(ops.multiply(samples, weights), axis=1), g

    def generator_objective(self, fake, assignment, training=False, balance_assignment=None):
        """The experts' and the gate's losses for a round's fakes.

        Args:
            fake: FI, (batch, ...).
            assignment: the (batch, n) STGS assignments that made it.
            training: D's training flag.
            balance_assignment: the assignments L_LB is computed on (default
                `assignment`; `mixture(..., balance=True)` gives them).

        Returns:
            `(adv, lb)`: L_adv^G(D(FI)) and L_LB (eq. 9) of the assignments;
            the move descends adv + lam * lb.
        """
        adv = self.loss.generator(self.judged(self.discriminator)(fake, training=training))
        if balance_assignment is None:
            balance_assignment = assignment
        return adv, load_balancing_loss(balance_assignment)

    def generator_loss(self, z, noise, temperature, training=True):
        """The loss the experts and the gate descend together: L_adv + lam * L_LB.

        Args:
            z: (batch, latent_dim).
            noise: (batch, n) Gumbel noise.
            temperature: tau.
            training: training flag of every network.

        Returns:
            `(loss, (adv, lb, assignment, fake))`.
        """
        fake, g, balance_g = self.mixture(z, noise, temperature, training, balance=True)
        adv, lb = self.generator_objective(fake, g, training, balance_g)
        return adv + self.lam * lb, (adv, lb, g, fake)

    def play(self, data):
        real = real_data(data)
        batch = ops.shape(real)[0]
        n = self.num_generators
        tau = self.temperature()
        D = self.judged(self.discriminator)

        for _ in range(self.d_steps):
            z = self.sample_z(batch)
            noise = gumbel_noise((batch, n), self.seed_generator)
            fake = ops.stop_gradient(self.mixture(z, noise, tau, training=True)[0])

            def d_loss_fn():
                loss = self.loss.discriminator(D(real, training=True), D(fake, training=True))
                penalty = self.gp_weight * self.penalty(D, real, fake)
                return loss + penalty + self.d_regularizers(D, real, fake)

            d_loss = self.minimize("discriminator", d_loss_fn)

        def g_loss_fn():
            loss, (adv, lb, g, fake) = self.generator_loss(z, noise, tau, training=True)
            return self.guide(loss, fake, real), (adv, lb, ops.mean(g, axis=0))

        _, (g_loss, lb_loss, usage) = self.minimize(["generator", "gate"], g_loss_fn)
        logs = {"d_loss": d_loss, "g_loss": g_loss, "lb_loss": lb_loss, "temperature": tau}
        logs.update({f"usage_{i}": usage[i] for i in range(n)})
        return logs

    def real_probability(self, x):
        return ops.sigmoid(ops.reshape(self.discriminator(x, training=False), (-1,)))

    def gate_logits(self, z):
        """The gate's logits l for a batch of z (inference mode)."""
        z = ops.convert_to_tensor(z, "float32")
        _, features = self.experts(z, training=False)
        return self.gate([z, features], training=False)

    # The mixture is gated: the sampler's gate draws the expert.
    def _mixture_index(self, num):
        return None

    def _random_index(self, rng, num):
        return None

    def _build_sampler(self):
        z = keras.Input((self.latent_dim,), name="z")
        index = keras.Input((), dtype="int32", name=SAMPLER_INDEX, optional=True)
        samples, features = self.experts(z)
        logits = self.gate([z, features])
        choice = GumbelChoice(self.num_generators, seed=self.seed, name="choice")(logits, index)
        x = SelectGenerator(axis=1, name="select")([samples, choice])
        return keras.Model([z, index], x, name=f"{self.name}_sampler")

    def call(self, z, training=False):
        samples, features = self.experts(z, training=training)
        logits = self.gate([z, features], training=training)
        g = ops.one_hot(ops.argmax(logits, axis=-1), self.num_generators)
        shape = (-1, self.num_generators) + (1,) * len(self.data_shape)
        return ops.sum(samples * ops.reshape(g, shape), axis=1)


def _as_experts_model(experts):
    if isinstance(experts, keras.Model):
        outs = [tuple(o.shape[1:]) for o in experts.outputs]
        if (
            len(experts.inputs) != 1
            or len(outs) != 2
            or len(outs[1]) != 2
            or outs[0][0] != outs[1][0]
        ):
            raise ValueError(
                "MEGAN's experts model maps z to [samples (n, ...), features "
                f"(n, k)]; got inputs {[tuple(i.shape) for i in experts.inputs]}, "
                f"outputs {outs}. Pass a list of n models z -> [sample, feature] "
                "for separate experts."
            )
        return experts
    experts = list(experts or [])
    if not experts:
        raise ValueError("MEGAN needs n >= 1 experts, got none.")
    if len({id(e) for e in experts}) != len(experts):
        raise ValueError("The n experts must be distinct models.")
    dims = {tuple(e.inputs[0].shape[1:]) for e in experts}
    if len(dims) != 1 or any(len(e.inputs) != 1 or len(e.outputs) != 2 for e in experts):
        raise ValueError(
            "Each expert maps one z (the same latent size for all) to [sample, feature map]."
        )
    z = keras.Input(dims.pop(), name="z")
    samples, features = [], []
    for i, expert in enumerate(experts):
        sample, feature = expert(z)
        samples.append(layers.Reshape((1,) + tuple(sample.shape[1:]), name=f"sample{i}")(sample))
        flat = layers.Flatten(name=f"flatten{i}")(feature)
        features.append(layers.Reshape((1, int(flat.shape[-1])), name=f"feature{i}")(flat))
    if len({tuple(s.shape) for s in samples}) != 1 or len({tuple(f.shape) for f in features}) != 1:
        raise ValueError("The experts' samples and feature maps must have equal shapes.")
    if len(experts) == 1:
        return keras.Model(z, [samples[0], features[0]], name="megan_experts")
    return keras.Model(
        z,
        [
            layers.Concatenate(axis=1, name="samples")(samples),
            layers.Concatenate(axis=1, name="features")(features),
        ],
        name="megan_experts",
    )


def _check_gate(gate, n, latent_dim, feature_dim):
    if not isinstance(gate, keras.Model):
        raise TypeError(f"The gate must be a keras.Model, got {type(gate)}.")
    ins = [tuple(i.shape[1:]) for i in gate.inputs]
    outs = [tuple(o.shape[1:]) for o in gate.outputs]
    if ins != [(latent_dim,), (n, feature_dim)] or outs != [(n,)]:
        raise ValueError(
            f"The gate maps [z ({latent_dim},), features ({n}, {feature_dim})] to "
            f"{n} logits; got inputs {ins}, outputs {outs}."
        )
