"""The hooks every generator game takes, whatever its players.

A game's constructor passes these keyword arguments (its `**hooks`) to its
base class, which validates them once for every game:

- `evaluator`, `score_weight`, `score_cap`: a frozen evaluator whose
  Inception-style score of the fakes, capped at the real batch's, the
  generator also maximises (ScoreGAN's evaluator player, for any game; see
  `kmgan.evaluators.EvaluatorGuidance`). The game logs "score" and
  "real_score".
- `gp_weight`: the weight of the WGAN-GP gradient penalty on the
  discriminator (`kmgan.losses.gradient_penalty`); None gives 10 with the
  Wasserstein loss and 0 otherwise. `gradient_penalty=` is its deprecated
  alias.
- `r1_weight`, `r1_interval`: the R1 penalty gamma / 2 * E||grad D(x_real)||^2
  on every discriminator (Mescheder et al. 2018), applied every
  `r1_interval` rounds with its weight multiplied by the interval (lazy
  regularization, Karras et al. 2020, StyleGAN2).
- `lecam_weight`, `lecam_decay`: the LeCam regularizer (Tseng et al.
  2021) E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2], with a_R and a_F
  moving averages of D's mean output on real and fake data.
- `ema_decay`, `ema_start`: an exponential moving average of the
  generator side's weights (`generator_networks()`), see `use_ema`.
- `augment`, `ada_target`, `ada_interval`, `ada_kimg`: differentiable
  augmentation of everything a discriminator or classifier judges, real and
  fake, in every move (`kmgan.diffaug`; MGAN's classifier, which never sees
  real data, judges its fakes as they are, see `kmgan.MGAN`): a DiffAugment policy (Zhao et al.
  2020; "diffaugment" is "color,translation,cutout") or "ada" (Karras et al.
  2020: each transform applied with a probability p steered towards
  r_t = E[sign D(x_real)] = `ada_target` every `ada_interval` rounds). The
  game logs "ada_p" and "ada_rt".

A game's `play` applies them where its paper's objective has the terms:

    g_loss = self.guide(g_loss, fake, real)          # in G's loss function
    d_loss = (d_loss + self.gp_weight * self.penalty(D, real, fake)
              + self.d_regularizers(D, real, fake))

`guide` adds nothing and `penalty` and `d_regularizers` (R1, LeCam) are 0 (no extra pass
through D) when the hook is off. A game's `play` takes its judges as
`D = self.judged(self.discriminator)`, which augments what they see in
training when `augment` is on. The average and ADA's p are updated by the
engine at the end of every round (`end_round`), in no game's code. Step
counts (`d_steps`, ControlGAN's `c_steps`) are checked by `check_steps`.
"""

import contextlib
import warnings

import keras
import numpy as np
from keras import ops

from kmgan import diffaug
from kmgan import losses
from kmgan.evaluators import EvaluatorGuidance

#: The keyword arguments every game's constructor takes through `**hooks`.
HOOK_ARGS = (
    "evaluator",
    "score_weight",
    "score_cap",
    "gp_weight",
    "r1_weight",
    "r1_interval",
    "lecam_weight",
    "lecam_decay",
    "ema_decay",
    "ema_start",
    "augment",
    "ada_target",
    "ada_interval",
    "ada_kimg",
    "gradient_penalty",
)

#: `augment="diffaugment"`: DiffAugment's policy for images (Zhao et al. 2020).
DIFFAUGMENT_POLICY = "color,translation,cutout"

#: The logs ADA adds: the augmentation probability and the overfitting
#: heuristic r_t it is steered by.
ADA_LOG_NAMES = ("ada_p", "ada_rt")

#: gp_weight's default with the Wasserstein loss (Gulrajani et al. 2017).
WGAN_GP_WEIGHT = 10.0


def check_steps(value, name="d_steps"):
    """Returns `value` as an int, or raises ValueError unless it is >= 1.

    Args:
        value: a number of optimizer steps per round.
        name: the argument's name, for the message.
    """
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def hook_log_names(hooks):
    """The log names the hooks in `hooks` (a dict of hook arguments) add."""
    names = EvaluatorGuidance.log_names if hooks.get("evaluator") is not None else ()
    if hooks.get("augment") == "ada":
        names = names + ADA_LOG_NAMES
    return names


def check_hook_args(game_name, hooks):
    """Raises TypeError for a keyword that is no hook (like Python would)."""
    unknown = sorted(set(hooks) - set(HOOK_ARGS))
    if unknown:
        raise TypeError(
            f"{game_name}() got unexpected keyword arguments {unknown}; the "
            f"shared hooks are {list(HOOK_ARGS[:-1])}."
        )


# Noise batches over which `use_ema` recomputes batch-norm statistics.
EMA_STATISTICS_BATCHES = 20


class GameHooks:
    """Mixin of `kmgan.games.base.AdversarialGame`: the shared hooks.

    `_init_hooks` runs in the base constructor once the generator is set
    (the evaluator is checked against its data shape).
    """

    def _init_hooks(
        self,
        evaluator=None,
        score_weight=0.5,
        score_cap="real",
        gp_weight=None,
        r1_weight=None,
        r1_interval=1,
        lecam_weight=None,
        lecam_decay=0.99,
        ema_decay=None,
        ema_start=0,
        augment=None,
        ada_target=0.6,
        ada_interval=4,
        ada_kimg=500,
        gradient_penalty=None,
    ):
        if gradient_penalty is not None:
            if gp_weight is not None and float(gp_weight) != float(gradient_penalty):
                raise ValueError(
                    f"gradient_penalty={gradient_penalty} is the deprecated name of "
                    f"gp_weight={gp_weight}; pass gp_weight only."
                )
            warnings.warn(
                "gradient_penalty= is deprecated; pass gp_weight= (the same weight).",
                DeprecationWarning,
                stacklevel=4,
            )
            gp_weight = gradient_penalty
        if gp_weight is not None and float(gp_weight) < 0:
            raise ValueError(f"gp_weight must be >= 0, got {gp_weight}.")
        self._gp_weight = None if gp_weight is None else float(gp_weight)
        guidance = EvaluatorGuidance.wrap(evaluator, weight=score_weight, cap=score_cap)
        if guidance is not None:
            _check_evaluator(guidance.evaluator, self.data_shape)
        self.evaluator = guidance
        self._init_r1(r1_weight, r1_interval)
        self._init_lecam(lecam_weight, lecam_decay)
        self._init_ema(ema_decay, ema_start)
        self._init_augment(augment, ada_target, ada_interval, ada_kimg)

    # ------------------------------------------------------------ penalty
    @property
    def gp_weight(self):
        """The gradient penalty's weight (resolved: 10 for the Wasserstein
        loss when none was given, else 0)."""
        if self._gp_weight is not None:
            return self._gp_weight
        loss = getattr(self, "loss", None)
        return WGAN_GP_WEIGHT if getattr(loss, "name", None) == "wasserstein" else 0.0

    @property
    def gradient_penalty(self):
        """Deprecated alias of `gp_weight`."""
        return self.gp_weight

    def penalty(self, critic, real, fake):
        """The unweighted WGAN-GP penalty of `critic`, or 0 with the hook off.

        Args:
            critic: the discriminator, or any callable `critic(x,
                training=False)` returning one logit per example (e.g. one
                head of a multi-output discriminator).
            real: the round's real batch.
            fake: fakes of the same example shape. A fake batch of another
                size (multi-generator games make K blocks) is paired with
                the real one on min(sizes) examples, the fakes taken evenly
                across the batch (every generator's block).

        Returns:
            A scalar tensor: `kmgan.losses.gradient_penalty(critic, real,
            fake)` drawn from the game's noise, or 0 when `gp_weight` is 0.
        """
        if not self.gp_weight:
            return ops.zeros((), "float32")
        n_real, n_fake = ops.shape(real)[0], ops.shape(fake)[0]
        if not (isinstance(n_real, int) and n_real == n_fake):
            n = ops.minimum(n_real, n_fake)
            fake = ops.take(fake, ops.arange(n) * ops.maximum(n_fake // n, 1), axis=0)
            real = real[:n]
        return losses.gradient_penalty(critic, real, fake, self.seed_generator)

    # ----------------------------------------------------------------- R1
    def _init_r1(self, weight, interval):
        if weight is not None and float(weight) < 0:
            raise ValueError(f"r1_weight must be >= 0, got {weight}.")
        self.r1_weight = 0.0 if weight is None else float(weight)
        self.r1_interval = check_steps(interval, "r1_interval")

    def r1_penalty(self, critic, real):
        """The weighted R1 penalty of `critic` on the real batch, or 0.

        gamma / 2 * E[||grad_x D(x)||^2] over real x (Mescheder et al.
        2018). With `r1_interval` k > 1 the term is computed on rounds whose
        index is a multiple of k only, weighted by k (lazy regularization),
        so that its average over rounds is unchanged.

        Args:
            critic: the discriminator, or a callable `critic(x,
                training=False)` giving one logit per example (as for
                `penalty`).
            real: the round's real batch.

        Returns:
            A scalar tensor, 0 when `r1_weight` is 0.
        """
        if not self.r1_weight:
            return ops.zeros((), "float32")
        weight = 0.5 * self.r1_weight
        if self.r1_interval == 1:
            return weight * losses.r1_penalty(critic, real)
        due = ops.equal(ops.mod(self.optimizer.iterations, self.r1_interval), 0)
        return ops.cond(
            due,
            lambda: weight * self.r1_interval * losses.r1_penalty(critic, real),
            lambda: ops.zeros((), "float32"),
        )

    # -------------------------------------------------------------- LeCam
    def _init_lecam(self, weight, decay):
        if weight is not None and float(weight) < 0:
            raise ValueError(f"lecam_weight must be >= 0, got {weight}.")
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"lecam_decay must be in [0, 1), got {decay}.")
        self.lecam_weight = 0.0 if weight is None else float(weight)
        self.lecam_decay = float(decay)
        self.lecam_anchors = None  # (2, num judges): a_R, a_F; made by build_state

    def _build_lecam(self):
        if self.lecam_weight and self.lecam_anchors is None:
            judges = int(getattr(self, "num_discriminators", 1))
            self.lecam_anchors = self.add_weight(
                shape=(2, judges), initializer="zeros", trainable=False, name="lecam_anchors"
            )

    def lecam_penalty(self, critic, real, fake, index=0):
        """The weighted LeCam regularizer of `critic`, or 0 with it off.

        lambda * (E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2])
        (Tseng et al. 2021, as their code and StudioGAN compute it), where
        the anchors a_R, a_F are moving averages (decay `lecam_decay`, the
        first round's means at round 0) of D's mean logit on real and fake
        batches, updated by this call. D is evaluated in inference mode,
        like the other penalties.

        Args:
            critic: the discriminator, or a callable `critic(x,
                training=False)` giving one logit per example.
            real: the round's real batch.
            fake: a fake batch.
            index: which judge's anchors (GMAN's D_i: i).

        Returns:
            A scalar tensor.
        """
        if not self.lecam_weight:
            return ops.zeros((), "float32")
        self._build_lecam()
        d_real = ops.reshape(ops.cast(critic(real, training=False), "float32"), (-1,))
        d_fake = ops.reshape(ops.cast(critic(fake, training=False), "float32"), (-1,))
        decay = ops.where(ops.equal(self.optimizer.iterations, 0), 0.0, self.lecam_decay)
        anchors = self.lecam_anchors.value
        means = ops.stop_gradient(ops.stack([ops.mean(d_real), ops.mean(d_fake)]))
        moved = decay * anchors[:, index] + (1.0 - decay) * means
        column = ops.one_hot(index, anchors.shape[1], dtype="float32")
        self.lecam_anchors.assign(anchors * (1.0 - column) + moved[:, None] * column)
        a_real, a_fake = moved[0], moved[1]
        reg = ops.mean(ops.square(ops.relu(d_real - a_fake))) + ops.mean(
            ops.square(ops.relu(a_real - d_fake))
        )
        return self.lecam_weight * reg

    def d_regularizers(self, critic, real, fake, index=0):
        """R1 and LeCam for one discriminator: `r1_penalty + lecam_penalty`.

        Args:
            critic, real, fake, index: as for `lecam_penalty`.

        Returns:
            A scalar tensor, 0 when both are off.
        """
        return self.r1_penalty(critic, real) + self.lecam_penalty(critic, real, fake, index)

    # ---------------------------------------------------------------- EMA
    def generator_networks(self):
        """The networks that make the game's samples (what `use_ema` averages).

        Returns:
            list of `keras.Model`: the generator, the K generators, or (MEGAN)
            the experts and the gate.
        """
        single = getattr(self, "generator", None)
        if single is not None:
            return [single]
        return list(getattr(self, "generators", None) or [])

    def _init_ema(self, decay, start):
        if decay is not None and not 0.0 < float(decay) < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {decay}.")
        if isinstance(start, bool) or int(start) != start or int(start) < 0:
            raise ValueError(f"ema_start must be an integer >= 0, got {start!r}.")
        self.ema_decay = None if decay is None else float(decay)
        self.ema_start = int(start)
        # Made by build_state, once every network exists (MEGAN sets its
        # gate after the base constructor). A tuple: Keras would track a
        # list of the sources as the game's own variables.
        object.__setattr__(self, "_ema_sources", ())
        self.ema_weights = []

    def build_state(self):
        """Creates the average's variables (once), copies of the weights."""
        super().build_state()
        self._build_lecam()
        if self.ema_decay is None or self._ema_sources:
            return
        sources = [v for net in self.generator_networks() for v in net.trainable_weights]
        object.__setattr__(self, "_ema_sources", tuple(sources))
        self.ema_weights = [
            self.add_weight(
                shape=v.shape,
                dtype=v.dtype,
                initializer=keras.initializers.Constant(ops.convert_to_numpy(v.value)),
                trainable=False,
                name=f"ema_{i}",
            )
            for i, v in enumerate(sources)
        ]

    # -------------------------------------------------------- augmentation
    def _init_augment(self, augment, target, interval, kimg):
        if augment == "diffaugment":
            augment = DIFFAUGMENT_POLICY
        if augment is not None:
            if len(self.data_shape) != 3:
                raise ValueError(
                    f"augment={augment!r} transforms images; {type(self).__name__} "
                    f"makes examples of shape {tuple(self.data_shape)}."
                )
            if augment != "ada":
                diffaug.check_policy(augment)
        if not 0.0 < float(target) < 1.0:
            raise ValueError(f"ada_target must be in (0, 1), got {target}.")
        if not float(kimg) > 0:
            raise ValueError(f"ada_kimg must be > 0, got {kimg}.")
        self.augment_policy = augment
        self.ada_target = float(target)
        self.ada_interval = check_steps(interval, "ada_interval")
        self.ada_kimg = float(kimg)
        if augment == "ada":
            # p, and sum(sign D(x_real)) and the count of reals since p last moved.
            self.ada_p, self.ada_signs, self.ada_seen = (
                self.add_weight(shape=(), initializer="zeros", trainable=False, name=name)
                for name in ("ada_p", "ada_signs", "ada_seen")
            )

    def judge_input(self, x):
        """The images a judge sees in training: `x` augmented (or `x`)."""
        if self.augment_policy is None:
            return x
        if self.augment_policy == "ada":
            return diffaug.ada_augment(x, self.seed_generator, self.ada_p)
        return diffaug.diff_augment(x, self.seed_generator, self.augment_policy)

    def judged(self, judge):
        """`judge` (a discriminator or classifier) seeing augmented inputs.

        Args:
            judge: a callable `judge(x, *more, training=...)`.

        Returns:
            `judge` itself without `augment`; else a callable that, in
            training mode, passes `judge_input(x)` for its first argument
            (inference calls, e.g. the penalties', see `x` unchanged).
        """
        if self.augment_policy is None:
            return judge

        def augmented(x, *more, training=False):
            return judge(self.judge_input(x) if training else x, *more, training=training)

        return augmented

    def ada_real_probability(self, data):
        """P(real) of the round's augmented real batch (ADA's statistic);
        a conditional game passes the labels."""
        real = keras.utils.unpack_x_y_sample_weight(data)[0]
        return self.real_probability(self.judge_input(real))

    def _update_ada(self, data):
        probability = ops.cast(self.ada_real_probability(data), "float32")
        signs = self.ada_signs.value + ops.sum(ops.sign(probability - 0.5))
        seen = self.ada_seen.value + ops.cast(ops.shape(probability)[0], "float32")
        r_t = signs / ops.maximum(seen, 1.0)
        p = self.ada_p.value
        due = ops.equal(ops.mod(self.optimizer.iterations + 1, self.ada_interval), 0)
        moved = diffaug.ada_adjust(
            p, r_t, self.ada_target, batch_size=seen, interval=1, speed_kimg=self.ada_kimg
        )
        p = ops.where(due, moved, p)
        self.ada_p.assign(p)
        self.ada_signs.assign(ops.where(due, 0.0, signs))
        self.ada_seen.assign(ops.where(due, 0.0, seen))
        self._record_move_logs({"ada_p": p, "ada_rt": r_t})

    def end_round(self, data):
        """Updates ADA's p (every `ada_interval` rounds) and the average.

        avg <- d * avg + (1 - d) * w, with d = `ema_decay` from round
        `ema_start` on and 0 before it (the average follows the weights).
        Batch-norm statistics are not averaged: `use_ema` recomputes them
        under the averaged weights.

        Args:
            data: the round's batch.
        """
        if self.augment_policy == "ada":
            self._update_ada(data)
        if not self.ema_weights:
            return
        decay = ops.where(ops.less(self.optimizer.iterations, self.ema_start), 0.0, self.ema_decay)
        decay = ops.cast(decay, "float32")
        for average, weight in zip(self.ema_weights, self._ema_sources):
            average.assign(decay * average + (1.0 - decay) * ops.cast(weight, "float32"))

    @contextlib.contextmanager
    def use_ema(self):
        """Context in which the generator side holds its averaged weights.

        Everything that samples, saves or evaluates the generator(s) inside
        the block sees the average: `game.sample`, `generator.save`,
        `kmgan.samplers.export_sampler(game)`, FID, GAM battles. The
        generator side's batch-norm moving statistics are recomputed under
        the average, as the mean of the batch statistics of 20 batches of
        256 fakes (StudioGAN's standing statistics), drawn from their own
        noise so that the game's noise stream is untouched. The training
        weights and statistics are put back on leaving it.

            with game.use_ema():
                images = game.sample(64)
                kmgan.samplers.export_sampler(game).save("g_ema.keras")

        Raises:
            ValueError: when the game was built without `ema_decay`.
        """
        self.build_state()
        if not self.ema_weights:
            raise ValueError(
                f"{type(self).__name__} keeps no average: build it with "
                "ema_decay= (e.g. 0.999) to use its EMA weights."
            )
        norms = self._generator_batch_norms()
        held = list(self._ema_sources) + [v for n in norms for v in n.non_trainable_weights]
        live = [ops.convert_to_numpy(v.value) for v in held]
        for weight, average in zip(self._ema_sources, self.ema_weights):
            weight.assign(ops.cast(average.value, weight.dtype))
        try:
            self._standing_statistics(norms)
            yield self
        finally:
            for weight, value in zip(held, live):
                weight.assign(value)

    def _generator_batch_norms(self):
        return [
            layer
            for net in self.generator_networks()
            for layer in net._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)
        ]

    def _standing_statistics(self, norms, batches=EMA_STATISTICS_BATCHES, batch_size=256):
        # The training weights' moving statistics do not fit the averaged
        # weights (a DCGAN's FID went from 63 to 149 with them): recompute
        # them as the mean of `batches` batch statistics under the average
        # (StudioGAN's standing statistics), with momentum 1 - 1/k on pass k.
        if not norms:
            return
        momenta = [layer.momentum for layer in norms]
        noise_state = ops.convert_to_numpy(self.seed_generator.state.value)
        rng = np.random.default_rng(0)
        try:
            for k in range(1, batches + 1):
                for layer in norms:
                    layer.momentum = 1.0 - 1.0 / k
                z = rng.standard_normal((batch_size, self.latent_dim)).astype("float32")
                # Tensors throughout: a multi-generator call pairs z with a
                # one-hot tensor, and Keras refuses mixed nested inputs.
                inputs = keras.tree.map_structure(ops.convert_to_tensor, self.statistics_inputs(z))
                self.call(inputs, training=True)
        finally:
            for layer, momentum in zip(norms, momenta):
                layer.momentum = momentum
            self.seed_generator.state.assign(noise_state)

    def statistics_inputs(self, z):
        """What `call` takes to make fakes from the noise `z` (conditional
        games add labels). Used to recompute the averaged generator's
        batch-norm statistics in `use_ema`.

        Args:
            z: (batch, latent_dim) NumPy noise.

        Returns:
            The inputs of `self.call`.
        """
        return z

    # ---------------------------------------------------------- evaluator
    def guide(self, loss, fake, real=None):
        """The generator's loss with the evaluator's term, when there is one.

        Call it on the generator's loss inside its `minimize` loss function;
        the evaluator's logs ("score", "real_score") reach the round's logs
        by themselves.

        Args:
            loss: the generator's loss under the game's own objective.
            fake: the generator's batch behind `loss` (gradients flow
                through it).
            real: the round's real batch (the score's cap).

        Returns:
            `loss - score_weight * L_score`, or `loss` without an evaluator.
        """
        if self.evaluator is None:
            return loss
        term, logs = self.evaluator.score_loss(fake, real)
        self._record_move_logs(logs)
        return loss + term

    def _record_move_logs(self, logs):
        slot = self.__dict__["_step_logs"]
        pending = getattr(slot, "move", None)
        if pending is None:  # outside a move: straight into the round's logs
            pending = getattr(slot, "round", None)
        if pending is not None:
            pending.update(logs)

    def hooks_config(self):
        """The hooks' constructor arguments, for `get_config`."""
        config = {"gp_weight": self.gp_weight}
        if self.r1_weight:
            config.update(r1_weight=self.r1_weight, r1_interval=self.r1_interval)
        if self.lecam_weight:
            config.update(lecam_weight=self.lecam_weight, lecam_decay=self.lecam_decay)
        if self.ema_decay is not None:
            config.update(ema_decay=self.ema_decay, ema_start=self.ema_start)
        if self.augment_policy is not None:
            config["augment"] = self.augment_policy
        if self.augment_policy == "ada":
            config.update(
                ada_target=self.ada_target, ada_interval=self.ada_interval, ada_kimg=self.ada_kimg
            )
        if self.evaluator is not None:
            config.update(score_weight=self.evaluator.weight, score_cap=self.evaluator.cap)
        return config


def _check_evaluator(evaluator, data_shape):
    inputs = list(getattr(evaluator, "inputs", None) or [])
    channels = inputs[0].shape[-1] if inputs else None
    if channels is not None and data_shape and channels != data_shape[-1]:
        raise ValueError(
            f"The evaluator takes {channels}-channel images but the generator "
            f"makes {data_shape[-1]}-channel ones (for grey images use "
            "kmgan.evaluators.mobilenet_v2(channels=1))."
        )
