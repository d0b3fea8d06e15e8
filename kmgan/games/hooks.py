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

A game's `play` applies them where its paper's objective has the terms:

    g_loss = self.guide(g_loss, fake, real)          # in G's loss function
    d_loss = d_loss + self.gp_weight * self.penalty(D, real, fake)

`guide` adds nothing and `penalty` is 0 (no extra pass through D) when
the hook is off. Step counts (`d_steps`, ControlGAN's `c_steps`) are
checked by `check_steps`.
"""

import warnings

from keras import ops

from kmgan import losses
from kmgan.evaluators import EvaluatorGuidance

#: The keyword arguments every game's constructor takes through `**hooks`.
HOOK_ARGS = ("evaluator", "score_weight", "score_cap", "gp_weight", "gradient_penalty")

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
    return EvaluatorGuidance.log_names if hooks.get("evaluator") is not None else ()


def check_hook_args(game_name, hooks):
    """Raises TypeError for a keyword that is no hook (like Python would)."""
    unknown = sorted(set(hooks) - set(HOOK_ARGS))
    if unknown:
        raise TypeError(
            f"{game_name}() got unexpected keyword arguments {unknown}; the "
            f"shared hooks are {list(HOOK_ARGS[:-1])}."
        )


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
        # Logs of the hooks, set during a move and read by GameModel.minimize.
        object.__setattr__(self, "_move_logs", None)

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
        pending = self.__dict__.get("_move_logs")
        if pending is None:  # outside a move: straight into the round's logs
            pending = self.__dict__.get("_round_logs")
        if pending is not None:
            pending.update(logs)

    def hooks_config(self):
        """The hooks' constructor arguments, for `get_config`."""
        config = {"gp_weight": self.gp_weight}
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
