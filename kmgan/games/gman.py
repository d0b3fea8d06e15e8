"""GMAN: one generator against N discriminators (Durugkar et al., ICLR 2017).

One round:

    each D_i descends its own loss L_D(D_i(x), D_i(G(z)))   (one backward pass;
                                                            the losses are separable)
    G descends F(V_1, ..., V_N)    with V_i = L_G(D_i(G(z))), the generator's
                                   loss against D_i (same z for every D_i)

The aggregate F:

- `mean`:  (1/N) sum_i V_i
- `max`:   max_i V_i (only the harshest discriminator teaches G)
- `soft`:  sum_i w_i V_i with w = softmax(lambda * V); lambda = 0 is the mean,
           lambda -> inf the max
- `auto`:  GMAN*: `soft` with lambda >= 0 learned by the generator, which
           minimises F_lambda(V) - c * lambda. The penalty -c * lambda keeps G
           from choosing the easy mean forever; we take c = 1e-3
           (`lambda_penalty`), and lambda = softplus(rho) with rho trained by
           G's optimizer, so lambda stays positive.

For GAM battles the GMAN's discriminator is its aggregate: per example, the
probabilities p_i = s(D_i(x)) are combined with the weights F gives the
discriminators (mean of p_i; min of p_i for `max`; softmax(lambda * (1 - p))
weights for `soft`/`auto`).
"""

import math

import keras
from keras import ops

from kmgan import losses
from kmgan.evaluators import EvaluatorGuidance
from kmgan.evaluators import guidance_log_names
from kmgan.evaluators import guided_loss
from kmgan.games.base import GeneratorGame
from kmgan.games.base import check_discriminator
from kmgan.games.base import real_data

AGGREGATORS = ("mean", "max", "soft", "auto")


def aggregate(values, aggregator="mean", lam=0.0, axis=0):
    """The GMAN aggregate F over discriminators.

    Args:
        values: tensor whose `axis` runs over the N discriminators.
        aggregator: one of `AGGREGATORS` ("auto" is "soft" with the given lam).
        lam: the softmax temperature lambda of "soft"/"auto".
        axis: the discriminator axis.

    Returns:
        The aggregate, with `axis` reduced.
    """
    if aggregator == "mean":
        return ops.mean(values, axis=axis)
    if aggregator == "max":
        return ops.max(values, axis=axis)
    if aggregator in ("soft", "auto"):
        weights = ops.softmax(lam * values, axis=axis)
        return ops.sum(weights * values, axis=axis)
    raise ValueError(f"Unknown aggregator '{aggregator}'; choose one of {AGGREGATORS}.")


@keras.saving.register_keras_serializable(package="kmgan")
class GMAN(GeneratorGame):
    """Generative multi-adversarial network.

    Args:
        generator: `keras.Model` z -> data.
        discriminators: list of N >= 1 `keras.Model`s data -> one logit; they
            may differ in architecture (see `kmgan.nets.varied_discriminators`).
        aggregator: "mean", "max", "soft" or "auto" (GMAN*).
        lam: lambda of "soft", or the initial lambda of "auto".
        lambda_penalty: c in GMAN*'s objective F_lambda - c * lambda.
        loss: name in `kmgan.losses.LOSSES` or an `AdversarialLoss`.
        label_smoothing: one-sided smoothing of the discriminators' real target.
        d_steps: discriminator steps per generator step.
        evaluator: optional frozen scorer guiding the generator (ScoreGAN's
            evaluator player; see `kmgan.evaluators.EvaluatorGuidance`).
        score_weight: delta, the weight of the evaluator's score.
        score_cap: "real", a number, or None.
        seed: seed of the game's noise.
        name: model name.
    """

    network_args = ("generator", "discriminators", "evaluator")

    def __init__(
        self,
        generator,
        discriminators,
        aggregator="mean",
        lam=1.0,
        lambda_penalty=1e-3,
        loss="non_saturating",
        label_smoothing=0.0,
        d_steps=1,
        evaluator=None,
        score_weight=0.5,
        score_cap="real",
        seed=None,
        name="gman",
    ):
        discriminators = list(discriminators or [])
        if len(discriminators) < 1:
            raise ValueError("GMAN needs N >= 1 discriminators, got none.")
        if aggregator not in AGGREGATORS:
            raise ValueError(
                f"Unknown aggregator '{aggregator}'; choose one of {AGGREGATORS}."
            )
        if lam < 0:
            raise ValueError(f"lambda must be >= 0, got {lam}.")
        if int(d_steps) < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps}.")
        n = len(discriminators)
        log_names = ["d_loss", "g_loss"] + [f"d_loss_{i}" for i in range(n)]
        if aggregator == "auto":
            log_names.append("lambda")
        guidance = EvaluatorGuidance.wrap(evaluator, weight=score_weight, cap=score_cap)
        log_names += list(guidance_log_names(guidance))
        super().__init__(generator, log_names=log_names, seed=seed, name=name)
        self.evaluator = guidance
        for i, d in enumerate(discriminators):
            check_discriminator(d, self.data_shape, role=f"discriminator {i}")
        if len({id(d) for d in discriminators}) != n:
            raise ValueError("The N discriminators must be distinct models.")
        self.discriminators = discriminators
        self.aggregator = aggregator
        self.lam = float(lam)
        self.lambda_penalty = float(lambda_penalty)
        self.loss = losses.get(loss, label_smoothing)
        self.d_steps = int(d_steps)
        if aggregator == "auto":
            # lambda = softplus(rho); rho starts where softplus(rho) = lam.
            rho = math.log(math.expm1(lam)) if lam > 0 else -10.0
            self.lambda_logit = self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(rho),
                name="lambda_logit",
            )

    def game_config(self):
        return {
            "aggregator": self.aggregator,
            "lam": self.lam,
            "lambda_penalty": self.lambda_penalty,
            "loss": self.loss.name,
            "label_smoothing": self.loss.label_smoothing,
            "d_steps": self.d_steps,
        }

    @property
    def num_discriminators(self):
        return len(self.discriminators)

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Args: `d_optimizer` is cloned, one per discriminator (each keeps its
        own state); `g_optimizer` serves the generator (and GMAN*'s lambda).
        kwargs as `GameModel.compile`."""
        from kmgan.engine import clone_optimizer

        optimizers = {
            f"discriminator_{i}": clone_optimizer(d_optimizer)
            for i in range(self.num_discriminators)
        }
        optimizers["generator"] = g_optimizer
        super().compile(optimizers, **kwargs)

    def player_variables(self):
        players = {
            f"discriminator_{i}": d.trainable_variables
            for i, d in enumerate(self.discriminators)
        }
        players["generator"] = list(self.generator.trainable_variables)
        if self.aggregator == "auto":
            players["generator"].append(self.lambda_logit)
        return players

    def current_lambda(self):
        """lambda as used by the aggregate now (a backend scalar)."""
        if self.aggregator == "auto":
            return ops.softplus(self.lambda_logit)
        return ops.convert_to_tensor(self.lam)

    def play(self, data):
        real = real_data(data)
        batch_size = ops.shape(real)[0]
        G = self.generator
        d_players = [f"discriminator_{i}" for i in range(self.num_discriminators)]

        def discriminator_losses(fake):
            per_d = ops.stack(
                [
                    self.loss.discriminator(D(real, training=True), D(fake, training=True))
                    for D in self.discriminators
                ]
            )
            return ops.sum(per_d), per_d

        for _ in range(self.d_steps):
            fake = ops.stop_gradient(G(self.sample_z(batch_size), training=True))
            _, d_losses = self.minimize(d_players, lambda: discriminator_losses(fake))

        z = self.sample_z(batch_size)

        def generator_loss():
            fake = G(z, training=True)
            values = ops.stack(
                [self.loss.generator(D(fake, training=True)) for D in self.discriminators]
            )
            lam = self.current_lambda()
            loss = aggregate(values, self.aggregator, lam)
            if self.aggregator == "auto":
                loss = loss - self.lambda_penalty * lam
            return guided_loss(self.evaluator, loss, fake, real)

        g_loss, score_logs = self.minimize("generator", generator_loss)
        logs = {"d_loss": ops.mean(d_losses), "g_loss": g_loss, **score_logs}
        logs.update({f"d_loss_{i}": d_losses[i] for i in range(self.num_discriminators)})
        if self.aggregator == "auto":
            logs["lambda"] = self.current_lambda()
        return logs

    def real_probability(self, x):
        probs = ops.stack(
            [
                ops.sigmoid(ops.reshape(D(x, training=False), (-1,)))
                for D in self.discriminators
            ]
        )  # (N, batch)
        if self.aggregator == "mean":
            return ops.mean(probs, axis=0)
        if self.aggregator == "max":
            return ops.min(probs, axis=0)
        weights = ops.softmax(self.current_lambda() * (1.0 - probs), axis=0)
        return ops.sum(weights * probs, axis=0)
