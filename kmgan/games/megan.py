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
generators (the gate is run a second time, in the same batched call, on
stop-gradient features for L_LB). With `d_steps` = 1 the round's fake batch
(z and Gumbel noise) is the one D trained on, as in Algorithm 1; with more
D steps (WGAN-GP's 5) each D step draws fresh noise and the generator step
reuses the last.

Only the chosen expert's image reaches D, so an expert learns only from the
z the gate gives it; the gate learns (through the straight-through
gradient) which expert makes the most convincing image for z. That is what
makes the experts specialise. Defaults from the paper: n in {3, 5, 10},
batch 64, lambda = 100, m = 100, the DCGAN loss or WGAN-GP.

For GAM battles the MEGAN's discriminator is D: P(real | x) = sigmoid(D(x)).
The sampler (`export_sampler`) picks the expert as the game does: a
Gumbel-max sample from softmax(l), or the expert you name.
"""

import keras
from keras import layers
from keras import ops

from kmgan import losses
from kmgan.engine import GameModel
from kmgan.engine import clone_optimizer
from kmgan.games.base import check_discriminator
from kmgan.games.base import real_data
from kmgan.games.gumbel import gumbel_noise
from kmgan.games.gumbel import load_balancing_loss
from kmgan.games.gumbel import megan_temperature
from kmgan.games.gumbel import straight_through_gumbel_softmax
from kmgan.games.multi import SAMPLER_INDEX
from kmgan.games.multi import MultiGeneratorGame
from kmgan.nets.megan import megan_gate
from kmgan.nets.multi import GumbelChoice
from kmgan.nets.multi import SelectGenerator


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
        gradient_penalty: weight of the WGAN-GP penalty; None gives 10 with
            the Wasserstein loss and 0 otherwise.
        label_smoothing: one-sided smoothing of D's real target.
        d_steps: discriminator steps per round (WGAN-GP uses 5).
        initial_temperature, temperature_decay, min_temperature: the
            schedule tau = max(initial * exp(-decay * iteration), min).
        seed: seed of the game's noise.
        name: model name.
    """

    network_args = ("experts", "discriminator", "gate")

    def __init__(
        self,
        experts,
        discriminator,
        gate=None,
        lam=100.0,
        loss="non_saturating",
        gradient_penalty=None,
        label_smoothing=0.0,
        d_steps=1,
        initial_temperature=0.5,
        temperature_decay=1e-3,
        min_temperature=1e-3,
        seed=None,
        name="megan",
    ):
        experts = _as_experts_model(experts)
        n = int(experts.outputs[0].shape[1])
        log_names = ["d_loss", "g_loss", "lb_loss", "temperature"]
        log_names += [f"usage_{i}" for i in range(n)]
        GameModel.__init__(self, log_names=log_names, seed=seed, name=name)
        self.experts = experts
        self.generator = None
        self.generators = None
        self.samples_per_generator = None
        self.same_noise = False
        self.num_generators = n
        self.latent_dim = int(experts.inputs[0].shape[-1])
        self._data_shape = tuple(experts.outputs[0].shape[2:])
        self.feature_dim = int(experts.outputs[1].shape[-1])
        if gate is None:
            gate = megan_gate(n, self.latent_dim, self.feature_dim,
                              seed=None if seed is None else seed + 1)
        _check_gate(gate, n, self.latent_dim, self.feature_dim)
        self.gate = gate
        check_discriminator(discriminator, self.data_shape)
        self.discriminator = discriminator
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}.")
        if int(d_steps) < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps}.")
        self.lam = float(lam)
        self.loss = losses.get(loss, label_smoothing)
        if gradient_penalty is None:
            gradient_penalty = 10.0 if self.loss.name == "wasserstein" else 0.0
        self.gradient_penalty = float(gradient_penalty)
        self.d_steps = int(d_steps)
        self.initial_temperature = float(initial_temperature)
        self.temperature_decay = float(temperature_decay)
        self.min_temperature = float(min_temperature)
        if not self.min_temperature > 0:
            raise ValueError("min_temperature must be > 0 (tau divides the logits).")

    def game_config(self):
        return {
            "lam": self.lam,
            "loss": self.loss.name,
            "gradient_penalty": self.gradient_penalty,
            "label_smoothing": self.loss.label_smoothing,
            "d_steps": self.d_steps,
            "initial_temperature": self.initial_temperature,
            "temperature_decay": self.temperature_decay,
            "min_temperature": self.min_temperature,
        }

    def compile(self, d_optimizer, g_optimizer, gate_optimizer=None, **kwargs):
        """Args: optimizers of D, the experts, and the gate (default: a clone
        of `g_optimizer`); kwargs as `GameModel.compile`."""
        if gate_optimizer is None:
            gate_optimizer = clone_optimizer(g_optimizer)
        super().compile(
            {"discriminator": d_optimizer, "generator": g_optimizer, "gate": gate_optimizer},
            **kwargs,
        )

    def player_variables(self):
        return {
            "discriminator": self.discriminator.trainable_variables,
            "generator": self.generator_variables(),
            "gate": self.gate.trainable_variables,
        }

    def generator_variables(self):
        return list(self.experts.trainable_variables)

    def temperature(self):
        """tau for the current round (from the game's round counter)."""
        return megan_temperature(
            self.optimizer.iterations, self.initial_temperature,
            self.temperature_decay, self.min_temperature,
        )

    def mixture(self, z, noise, temperature, training=False, balance=False):
        """FI = sum_j g_j o_j for a batch z.

        Args:
            z: (batch, latent_dim).
            noise: (batch, n) Gumbel noise of the STGS.
            temperature: tau.
            training: training flag of the experts and the gate.
            balance: also return the assignments for L_LB, computed by the
                gate on stop-gradient features (so that L_LB trains the gate
                but not the experts).

        Returns:
            `(fake, assignment)` or, with `balance`, `(fake, assignment,
            balance_assignment)`; assignments are (batch, n) one-hot.
        """
        samples, features = self.experts(z, training=training)
        if balance:
            both = self.gate(
                [ops.concatenate([z, z], axis=0),
                 ops.concatenate([features, ops.stop_gradient(features)], axis=0)],
                training=training,
            )
            batch = ops.shape(z)[0]
            logits, balance_logits = both[:batch], both[batch:]
        else:
            logits = self.gate([z, features], training=training)
        g = straight_through_gumbel_softmax(logits, temperature, noise)
        shape = (-1, self.num_generators) + (1,) * len(self.data_shape)
        fake = ops.sum(samples * ops.reshape(g, shape), axis=1)
        if not balance:
            return fake, g
        return fake, g, straight_through_gumbel_softmax(balance_logits, temperature, noise)

    def play(self, data):
        real = real_data(data)
        batch = ops.shape(real)[0]
        n = self.num_generators
        tau = self.temperature()
        D = self.discriminator

        for _ in range(self.d_steps):
            z = self.sample_z(batch)
            noise = gumbel_noise((batch, n), self.seed_generator)
            fake = ops.stop_gradient(self.mixture(z, noise, tau, training=True)[0])

            def d_loss_fn():
                loss = self.loss.discriminator(D(real, training=True), D(fake, training=True))
                if self.gradient_penalty > 0:
                    loss = loss + self.gradient_penalty * losses.gradient_penalty(
                        D, real, fake, self.seed_generator
                    )
                return loss

            d_loss = self.minimize("discriminator", d_loss_fn)

        def g_loss_fn():
            fake, g, g_balance = self.mixture(z, noise, tau, training=True, balance=True)
            adv = self.loss.generator(D(fake, training=True))
            lb = load_balancing_loss(g_balance)
            return adv + self.lam * lb, (adv, lb, ops.mean(g, axis=0))

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
        if (len(experts.inputs) != 1 or len(outs) != 2 or len(outs[1]) != 2
                or outs[0][0] != outs[1][0]):
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
            "Each expert maps one z (the same latent size for all) to "
            "[sample, feature map]."
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
        [layers.Concatenate(axis=1, name="samples")(samples),
         layers.Concatenate(axis=1, name="features")(features)],
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
