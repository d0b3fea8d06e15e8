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

The N discriminators come in one of two forms, served by one code path: the
game always computes the (batch, N) matrix of the N discriminators' logits
and takes every per-discriminator loss column by column.

- a list of N models, each data -> one logit (any architectures): the
  matrix is their N outputs side by side; N players, one optimizer each;
- ONE model data -> (batch, N) logits, typically N identical
  discriminators stacked into one network
  (`kmgan.nets.stacked_dcgan_discriminator`, `stacked_mlp_discriminator`,
  `stack_discriminators`): the matrix is one call. Its step holds one copy
  of the discriminator graph instead of N (only the N logged losses remain
  per discriminator), so tracing and compilation hardly grow with N; see
  `kmgan.nets.stacked` for how its convolutions run on CPUs and GPUs. It is
  one player with one optimizer: for an
  element-wise optimizer (Adam, RMSprop, SGD with or without momentum,
  weight decay included) one optimizer over the stacked weights makes
  exactly the updates N optimizers with the same hyper-parameters make over
  the N slices. Per-variable or global gradient clipping (`clipnorm`,
  `global_clipnorm`) and layer-wise optimizers (LAMB, LARS) see the stacked
  tensors as one and differ.
"""

import math

import keras
from keras import ops

from kmgan import losses
from kmgan.games.base import GMAN_REPORT_ADAM
from kmgan.games.base import GeneratorGame
from kmgan.games.base import check_discriminator
from kmgan.games.base import loss_config
from kmgan.games.base import real_data
from kmgan.nets.stacked import num_stacked
from kmgan.nets.stacked import unstack_discriminator

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
        discriminators: list of N >= 1 `keras.Model`s data -> one logit (they
            may differ in architecture, see
            `kmgan.nets.varied_discriminators`), or one `keras.Model`
            data -> (batch, N) logits holding N discriminators (a stacked
            model, see the module docstring).
        aggregator: "mean", "max", "soft" or "auto" (GMAN*).
        lam: lambda of "soft", or the initial lambda of "auto".
        lambda_penalty: c in GMAN*'s objective F_lambda - c * lambda.
        loss: name in `kmgan.losses.LOSSES` or an `AdversarialLoss`.
        label_smoothing: one-sided smoothing of the discriminators' real target.
        d_steps: discriminator steps per generator step.
        seed: seed of the game's noise.
        name: model name.
        **hooks: the shared hooks every game takes (`kmgan.games.hooks`):
            `evaluator`, `score_weight`, `score_cap` (a frozen scorer
            guiding the generator, ScoreGAN's evaluator player) and
            `gp_weight` (WGAN-GP on each discriminator).

    `compile()` without optimizers gives every player the GMAN report's
    Adam(1e-4, beta_1=0.5) (Xu et al.); `d_optimizer=` is cloned, one per
    discriminator player.
    """

    optimizer_defaults = GMAN_REPORT_ADAM
    network_args = ("generator", "discriminators")

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
        seed=None,
        name="gman",
        **hooks,
    ):
        if discriminators is None:
            discriminators = []
        stacked = isinstance(discriminators, keras.Model)
        if stacked:
            n = num_stacked(discriminators)
        else:
            if isinstance(discriminators, (str, bytes, dict)) or not hasattr(
                discriminators, "__iter__"
            ):
                raise TypeError(
                    "discriminators must be a list of keras.Models or one keras.Model "
                    f"with (batch, N) logits; got {type(discriminators).__name__}."
                )
            discriminators = list(discriminators)
            n = len(discriminators)
        if n < 1:
            raise ValueError("GMAN needs N >= 1 discriminators, got none.")
        if aggregator not in AGGREGATORS:
            raise ValueError(f"Unknown aggregator '{aggregator}'; choose one of {AGGREGATORS}.")
        if lam < 0:
            raise ValueError(f"lambda must be >= 0, got {lam}.")
        log_names = ["d_loss", "g_loss"] + [f"d_loss_{i}" for i in range(n)]
        if aggregator == "auto":
            log_names.append("lambda")
        super().__init__(
            generator, d_steps=d_steps, log_names=log_names, seed=seed, name=name, **hooks
        )
        if stacked:
            _check_stacked(discriminators, self.data_shape)
        else:
            for i, d in enumerate(discriminators):
                check_discriminator(d, self.data_shape, role=f"discriminator {i}")
            if len({id(d) for d in discriminators}) != n:
                raise ValueError("The N discriminators must be distinct models.")
        # As given: the list, or the one stacked model (what get_config saves).
        self.discriminators = discriminators
        self.stacked = stacked
        self._num_discriminators = n
        self.aggregator = aggregator
        self.lam = float(lam)
        self.lambda_penalty = float(lambda_penalty)
        self.loss = losses.get(loss, label_smoothing)
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
            **loss_config(self.loss),
        }

    @property
    def num_discriminators(self):
        """N, the number of discriminators (logits per example)."""
        return self._num_discriminators

    @property
    def discriminator_models(self):
        """The discriminator players' models: the N models, or the one stacked model."""
        return [self.discriminators] if self.stacked else list(self.discriminators)

    @property
    def discriminator_players(self):
        """The discriminator players' names: "discriminator_0" ... for a
        list, "discriminator" for a stacked model."""
        if self.stacked:
            return ["discriminator"]
        return [f"discriminator_{i}" for i in range(self.num_discriminators)]

    def get_discriminator(self, index):
        """Discriminator `index` as a plain model data -> (batch, 1).

        For a list, the model itself (trained in place); for a stacked model,
        a copy of its slice (`kmgan.nets.unstack_discriminator`), e.g. to
        keep or inspect one discriminator.
        """
        index = int(index)
        if not 0 <= index < self.num_discriminators:
            raise ValueError(f"index must be in [0, {self.num_discriminators}), got {index}.")
        if self.stacked:
            return unstack_discriminator(self.discriminators, index)
        return self.discriminators[index]

    def discriminator_logits(self, x, training=False):
        """The (batch, N) logits of the N discriminators on `x`."""
        if self.stacked:
            logits = self.discriminators(x, training=training)
            return ops.reshape(logits, (-1, self.num_discriminators))
        return ops.concatenate(
            [ops.reshape(D(x, training=training), (-1, 1)) for D in self.discriminators],
            axis=1,
        )

    def role_players(self, role):
        # One optimizer given for the discriminators serves each of them
        # (a clone per player, each with its own state).
        return self.discriminator_players if role == "discriminator" else [role]

    def player_variables(self):
        players = {
            p: d.trainable_variables
            for p, d in zip(self.discriminator_players, self.discriminator_models)
        }
        players["generator"] = self.generator_variables()
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
        logits_of = self.judged(self.discriminator_logits)

        def discriminator_losses(fake):
            # (N,): column i is D_i's loss. The sum is separable, so one
            # backward pass gives every D_i the gradient of its own loss.
            per_d = self.loss.discriminator(
                logits_of(real, training=True),
                logits_of(fake, training=True),
                axis=0,
            )
            if self.gp_weight:  # WGAN-GP on each D_i's own logit
                per_d = per_d + self.gp_weight * ops.stack(
                    [
                        self.penalty(self._logit_column(i), real, fake)
                        for i in range(self.num_discriminators)
                    ]
                )
            if self.r1_weight or self.lecam_weight:  # on each D_i's own logit
                per_d = per_d + ops.stack(
                    [
                        self.d_regularizers(self._logit_column(i), real, fake, i)
                        for i in range(self.num_discriminators)
                    ]
                )
            return ops.sum(per_d), per_d

        for _ in range(self.d_steps):
            fake = ops.stop_gradient(G(self.sample_z(batch_size), training=True))
            _, d_losses = self.minimize(
                self.discriminator_players, lambda: discriminator_losses(fake)
            )

        z = self.sample_z(batch_size)

        def generator_loss():
            fake = G(z, training=True)
            values = self.loss.generator(logits_of(fake, training=True), axis=0)
            lam = self.current_lambda()
            loss = aggregate(values, self.aggregator, lam)
            if self.aggregator == "auto":
                loss = loss - self.lambda_penalty * lam
            return self.guide(loss, fake, real)

        g_loss = self.minimize("generator", generator_loss)
        logs = {"d_loss": ops.mean(d_losses), "g_loss": g_loss}
        logs.update({f"d_loss_{i}": d_losses[i] for i in range(self.num_discriminators)})
        if self.aggregator == "auto":
            logs["lambda"] = self.current_lambda()
        return logs

    def _logit_column(self, index):
        """D_index as a critic x -> logits (for the gradient penalty)."""
        if not self.stacked:
            return self.discriminators[index]
        return lambda x, training=False: self.discriminator_logits(x, training=training)[:, index]

    def real_probability(self, x):
        probs = ops.sigmoid(
            ops.cast(self.discriminator_logits(x, training=False), "float32")
        )  # (batch, N)
        if self.aggregator == "mean":
            return ops.mean(probs, axis=1)
        if self.aggregator == "max":
            return ops.min(probs, axis=1)
        weights = ops.softmax(self.current_lambda() * (1.0 - probs), axis=1)
        return ops.sum(weights * probs, axis=1)


def _check_stacked(model, data_shape):
    """Raises unless `model` maps data_shape to (batch, N) logits."""
    in_shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if in_shape is None or len(model.inputs) != 1:
        raise ValueError(
            f"The stacked discriminator {model.name!r} must take one input of the "
            "generator's data shape."
        )
    if in_shape != tuple(data_shape):
        raise ValueError(
            f"The stacked discriminator takes inputs of shape {in_shape} but the "
            f"generator produces {tuple(data_shape)}."
        )
