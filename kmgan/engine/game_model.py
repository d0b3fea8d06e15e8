"""`GameModel`: the base class of every kmgan game."""

import inspect
import threading
import types

import keras
import numpy as np
from keras import ops

from kmgan.engine import backend_step
from kmgan.engine.optimizers import PlayerOptimizers
from kmgan.engine.optimizers import clone_optimizer

#: Short forms of the optimizer keywords (`d_optimizer=` is the discriminator's).
_SHORT_ROLES = {"d": "discriminator", "g": "generator", "c": "classifier"}


class GameModel(keras.Model):
    """A `keras.Model` whose `train_step` plays one round of a game.

    A game subclasses `GameModel` and provides:

    - `player_variables()`: which trainable variables each player owns,
      e.g. `{"discriminator": [...], "generator": [...]}`;
    - `play(data)`: one round of the game, written in backend-neutral Keras.
      Each move is `self.minimize(players, loss_fn)`, where `loss_fn()`
      computes that player's loss from the current state (and may return
      `(loss, aux)`). `play` returns a dict of scalars to log;
    - `log_names`: the keys `play` returns, declared up front so that their
      trackers exist before `fit` starts.

    The engine runs the same `play` under TensorFlow (a `GradientTape` per
    move), JAX (a pure function per move inside a `StatelessScope`) and
    PyTorch (`torch.autograd.grad` per move). All
    players' optimizers live in one `PlayerOptimizers` at `self.optimizer`,
    so `fit` carries their state on every backend. All noise comes from
    `self.seed_generator`.

    Args:
        log_names: names of the scalars `play` returns (defaults to the
            class attribute `log_names`).
        seed: integer seed of the game's noise generator, or None.
        name: model name.
    """

    log_names = ()

    def __init__(self, log_names=None, seed=None, name=None, **kwargs):
        # The game's own state (averages, ADA's p) and its logs stay float32
        # under a mixed-precision policy; the networks follow the policy.
        kwargs.setdefault("dtype", "float32")
        super().__init__(name=name, **kwargs)
        backend_step.check_supported()
        # Logs recorded during a round and a move, per thread: under
        # tf.distribute.MirroredStrategy each replica plays in a thread of its own.
        object.__setattr__(self, "_step_logs", threading.local())
        self.seed = seed
        self.seed_generator = backend_step.ReplicaSeedGenerator(seed, name="noise")
        self.log_names = tuple(log_names or type(self).log_names)
        # "loss" sums everything a round logs. It is no objective (the players
        # pull against each other) but it is finite exactly when every logged
        # value is, which is what TerminateOnNaN and friends look at.
        self.loss_trackers = [
            keras.metrics.Mean(name=log_name) for log_name in ("loss",) + self.log_names
        ]
        # Players are built networks; the game has no graph of its own for
        # Keras to build from data.
        self.built = True

    # ----------------------------------------------------------- game API
    def player_variables(self):
        """Returns a dict mapping each player's name to its variables."""
        raise NotImplementedError

    def play(self, data):
        """Plays one round on a batch `data`; returns a dict of scalars."""
        raise NotImplementedError

    def build_state(self):
        """Creates the game's own state variables that depend on every
        network being set (e.g. a weight average). Called by `compile` and
        before the game's own variables are saved or loaded; must be
        idempotent. The default creates nothing."""

    def end_round(self, data):
        """Runs after every round's moves, inside the training step (a hook
        for state that follows the players, e.g. their weights' average).
        Reads and writes of variables here are part of the step on every
        backend. The default does nothing.

        Args:
            data: the round's batch, as `play` got it.
        """

    def minimize(self, players, loss_fn):
        """Moves `players` one optimizer step down the loss `loss_fn()`.

        Args:
            players: a player name or a sequence of names. Gradients of the
                loss with respect to each named player's variables go to
                that player's own optimizer (a separable sum of losses thus
                updates several players in one backward pass).
            loss_fn: callable with no arguments returning a scalar loss, or
                `(loss, aux)` where `aux` is any structure of tensors.

        Returns:
            The loss, or `(loss, aux)` when `loss_fn` returned a tuple.
        """
        players = (players,) if isinstance(players, str) else tuple(players)

        scale = self._loss_scale(players)

        def move():
            # Logs that hooks record while the loss is computed (the
            # evaluator's score) leave the move with its aux: on JAX they
            # are values of the gradient's trace.
            slot = self.__dict__["_step_logs"]
            slot.move = {}
            try:
                result = loss_fn()
                recorded = slot.move
            finally:
                slot.move = None
            loss, aux = result if isinstance(result, tuple) else (result, None)
            loss = ops.cast(loss, "float32")
            if scale is None:
                return loss, (aux, recorded)
            return loss * scale, (aux, recorded, loss)

        loss, extra = backend_step.minimize(self, move, players)
        aux, recorded = extra[:2]
        if scale is not None:
            loss = extra[2]
        round_logs = getattr(self.__dict__["_step_logs"], "round", None)
        if round_logs is not None:
            round_logs.update(recorded)
        return loss if aux is None else (loss, aux)

    # ------------------------------------------------------------ compile
    #: Names `compile` takes an optimizer under, in positional order (the
    #: order of the games' former `compile(d_optimizer, g_optimizer, ...)`).
    #: Empty: the players of `player_variables()`, in that order.
    optimizer_roles = ()

    #: role -> role: an omitted optimizer clones that one when it was given
    #: (MGAN's classifier trains with D: a clone of D's optimizer).
    tied_optimizers = {}

    def role_players(self, role):
        """The players an optimizer given for `role` serves (default: the
        player of that name). A role with several players (GMAN's N
        discriminators) gives each a clone of the optimizer."""
        return [role]

    def default_optimizers(self):
        """The game's default optimizer for each role: what `compile()` gives
        a player for which no optimizer is passed.

        Returns:
            dict mapping role names to fresh optimizers. A game adds keyword
            options to this method's signature (e.g. ControlGAN's
            `halve_after`); `compile` accepts and forwards them.
        """
        return {}

    def compile(
        self,
        *optimizers,
        jit_compile="auto",
        run_eagerly=False,
        steps_per_execution=1,
        accumulation_steps=None,
        **named,
    ):
        """Configures one optimizer per player.

        Three forms, which can be mixed except for the first:

        - `compile({"discriminator": opt, "generator": opt, ...})`: one
          dict naming every player exactly (the engine's own form);
        - `compile(opt_d, opt_g, ...)`: positional, in `optimizer_roles`
          order (GAN: discriminator, generator; MGAN and ControlGAN: then the
          classifier; MEGAN: then the gate);
        - by name: `compile(discriminator=opt, generator=opt)`, or with the
          suffix `_optimizer` and the short forms `d_`, `g_`, `c_`
          (`d_optimizer=`, `g_optimizer=`, `c_optimizer=`, `gate_optimizer=`).

        A role left out (or given None) gets the game's default: a clone of
        its tied role's optimizer when that was given (`tied_optimizers`),
        else `default_optimizers()` (the paper's settings).

        Args:
            *optimizers: a dict of every player's optimizer, or optimizers in
                `optimizer_roles` order.
            jit_compile: as in `keras.Model.compile` (XLA on TensorFlow and
                JAX; on torch a round runs eagerly, see
                `backend_step.resolve_compile_options`).
            run_eagerly: as in `keras.Model.compile`.
            steps_per_execution: as in `keras.Model.compile` (1 on torch).
            accumulation_steps: gradient accumulation: an int k >= 2 for
                every player, or a dict {player: k}. Such a player's
                optimizer applies the mean of its gradients over k of its
                moves, once every k moves (Keras'
                `gradient_accumulation_steps`), which is one step on a
                k-times larger batch for a player whose opponents hold
                still meanwhile (exactly so when they accumulate too and the
                player moves first in the round; a later mover's k gradients
                meet its opponents before and after their update). None: off.
            **named: optimizers by role or player name, and the options of
                the game's `default_optimizers` (e.g. `halve_after`).

        Raises:
            ValueError: for a name that is no player or role of the game
                (the message lists them), or a role given twice.
        """
        self.build_state()
        player_variables = self.player_variables()
        if len(optimizers) == 1 and isinstance(optimizers[0], dict):
            if named:
                raise ValueError(
                    "Pass optimizers either as one dict of every player or by "
                    f"name, not both; got the dict and {sorted(named)}."
                )
            mapping = dict(optimizers[0])
        else:
            mapping = self._resolve_optimizers(optimizers, named, player_variables)
        unknown = set(mapping) - set(player_variables)
        missing = set(player_variables) - set(mapping)
        if unknown or missing:
            raise ValueError(
                f"{type(self).__name__} has players {sorted(player_variables)}; "
                f"got optimizers for {sorted(mapping)}."
            )
        owner = {}
        for player, variables in player_variables.items():
            for v in variables:
                if id(v) in owner:
                    raise ValueError(
                        f"Variable {v.path} belongs to both '{owner[id(v)]}' and '{player}'."
                    )
                owner[id(v)] = player
        mapping = _with_accumulation(mapping, accumulation_steps)
        mapping = _with_loss_scaling(mapping)
        container = PlayerOptimizers({p: mapping[p] for p in player_variables})
        container.set_player_variables(player_variables)
        # A read-only mapping: Keras would track a dict of variables as the
        # game's own state (and save and carry every weight twice).
        self._player_variables = types.MappingProxyType(
            {p: tuple(vs) for p, vs in player_variables.items()}
        )
        jit_compile, steps_per_execution = backend_step.resolve_compile_options(
            jit_compile, steps_per_execution
        )
        super().compile(
            optimizer=container,
            jit_compile=jit_compile,
            run_eagerly=run_eagerly,
            steps_per_execution=steps_per_execution,
        )

    def _resolve_optimizers(self, positional, named, player_variables):
        """{player: optimizer} from compile's positional and named arguments."""
        roles = tuple(self.optimizer_roles or player_variables)
        options = _keyword_options(self.default_optimizers)
        option_values = {k: named.pop(k) for k in list(named) if k in options}
        if len(positional) > len(roles):
            raise ValueError(
                f"{type(self).__name__}.compile takes at most {len(roles)} "
                f"positional optimizers ({', '.join(roles)}); got {len(positional)}."
            )
        given = dict(zip(roles, positional))
        per_player = {}
        for key, optimizer in named.items():
            name = _optimizer_name(key)
            if name in roles:
                if given.get(name) is not None and optimizer is not None:
                    raise ValueError(f"The {name} optimizer is given twice.")
                given[name] = given.get(name) if optimizer is None else optimizer
            elif name in player_variables:
                per_player[name] = optimizer
            else:
                raise ValueError(
                    f"{type(self).__name__} has no player or optimizer {key!r}. "
                    f"Its players are {sorted(player_variables)}; compile takes "
                    f"optimizers for {', '.join(roles)} (by that name, as "
                    "<name>_optimizer, or d_/g_/c_optimizer)"
                    + (f" and the options {sorted(options)}" if options else "")
                    + "."
                )
        defaults = None
        mapping = {}
        for role in roles:
            optimizer = given.get(role)
            tied = self.tied_optimizers.get(role)
            if optimizer is None and tied is not None and given.get(tied) is not None:
                optimizer = clone_optimizer(given[tied])
            if optimizer is None:
                if defaults is None:
                    defaults = self.default_optimizers(**option_values)
                if role not in defaults:
                    raise ValueError(
                        f"{type(self).__name__} has no default optimizer for "
                        f"'{role}'; pass one (players: {sorted(player_variables)})."
                    )
                optimizer = defaults[role]
            players = [p for p in self.role_players(role) if p not in per_player]
            if players == [role]:
                mapping[role] = optimizer
            else:
                for player in players:
                    mapping[player] = clone_optimizer(optimizer)
        mapping.update({p: o for p, o in per_player.items() if o is not None})
        return mapping

    # ------------------------------------------------------------ engine
    def train_step(self, *args):
        return backend_step.train_step(self, *args)

    def test_step(self, *args):
        raise NotImplementedError(
            f"{type(self).__name__} has no single loss to evaluate; use "
            "kmgan.metrics (battle, mode coverage, IS/FID) instead."
        )

    def _play_round(self, data):
        slot = self.__dict__["_step_logs"]
        slot.round = {}
        try:
            played = self.play(data)
            self.end_round(data)
            logs = dict(slot.round)
        finally:
            slot.round = None
        logs.update(played)
        missing = set(self.log_names) - set(logs)
        if missing:
            raise KeyError(f"play() did not return logs {sorted(missing)}.")
        # One Sum op, not a chain of adds: TensorFlow's graph optimizer
        # regroups chained adds (with the tracker's running total) in an
        # order that varies from trace to trace, and the logged mean by an ulp.
        values = [ops.cast(logs[n], "float32") for n in self.log_names]
        logs["loss"] = ops.sum(ops.stack(values)) if values else ops.zeros(())
        for tracker in self.loss_trackers:
            tracker.update_state(logs[tracker.name])
        self.optimizer.iterations.assign_add(1)
        return {t.name: t.result() for t in self.loss_trackers}

    def _variables_of(self, players):
        return [v for p in players for v in self._player_variables[p]]

    def _loss_scale(self, players):
        """The factor a move's loss is scaled by before its gradient: the
        first player's loss scale under `mixed_float16` (None otherwise)."""
        optimizer = self.optimizer[players[0]]
        if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return None
        return ops.cast(optimizer.scale_loss(1.0), "float32")

    def _apply_player_gradients(self, players, grads):
        scale = self._loss_scale(players)
        start = 0
        for player in players:
            variables = self._player_variables[player]
            stop = start + len(variables)
            player_grads = list(grads[start:stop])
            if scale is not None and player != players[0]:
                # Each loss-scale optimizer divides by its own scale.
                ratio = ops.cast(self.optimizer[player].scale_loss(1.0), "float32") / scale
                player_grads = [g * ops.cast(ratio, g.dtype) for g in player_grads]
            if variables:
                _apply(self.optimizer[player], player_grads, list(variables))
            start = stop

    # ------------------------------------------------------------- saving
    def save_own_variables(self, store):
        # Keras saves a SeedGenerator with its layer but not with a model's
        # own state; a resumed game must draw the same noise it would have.
        self.build_state()
        super().save_own_variables(store)
        store["noise_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        self.build_state()
        own = self._trainable_variables + self._non_trainable_variables
        keys = set(store.keys())
        expected = {str(i) for i in range(len(own))}
        if not expected <= keys:
            raise ValueError(
                f"{self.name}: saved state has {len(keys)} entries, the game "
                f"has {len(own)} variables of its own."
            )
        for i, v in enumerate(own):
            v.assign(store[str(i)])
        if "noise_state" in keys:
            self.seed_generator.state.assign(store["noise_state"])

    # ---------------------------------------------------------- data checks
    def fit(self, x=None, y=None, **kwargs):
        """`keras.Model.fit`, after checking the first batch against the game.

        Bad data (wrong rank or channel count, NaN or inf values, images
        outside [-1, 1], an empty dataset) raises a `ValueError` before any
        training step. The batch checked is the first one `fit` would take
        (of arrays, the first `batch_size` examples).
        """
        self.check_data(_first_batch(x, kwargs.get("batch_size")))
        if _is_dataset(x):
            kwargs.setdefault("shuffle", False)  # a tf.data pipeline shuffles itself
        from kmgan.data import order  # kmgan pipelines: epoch e's order, also after a resume

        kwargs["callbacks"] = order.with_sync_epoch(kwargs.get("callbacks"))
        return super().fit(x, y, **kwargs)

    def check_data(self, batch):
        """Raises ValueError when a batch of real data does not fit the game.

        Args:
            batch: the real-data part of one batch (array or tensor).
        """
        expected = tuple(self.data_shape)
        got = tuple(batch.shape[1:])
        if len(got) != len(expected) or got[-1] != expected[-1]:
            raise ValueError(
                f"{type(self).__name__} expects examples of shape {expected} "
                f"(from its generator's output), got batches of shape "
                f"{tuple(batch.shape)}."
            )
        if got != expected:
            raise ValueError(
                f"{type(self).__name__} expects examples of shape {expected}, "
                f"got {got}. Resize the data (kmgan.data.load(..., "
                "image_size=...)) or build the networks for this size."
            )
        values = np.asarray(ops.convert_to_numpy(batch))
        finite = np.isfinite(values)
        if not finite.all():
            bad = int(np.sum(~finite.reshape(len(values), -1).all(axis=1)))
            raise ValueError(
                f"The real data hold NaN or inf: {bad} of the {len(values)} "
                "examples of the first batch have non-finite values. Drop or "
                "repair them before training (np.isfinite(x).all(axis=...) "
                "finds them)."
            )
        if len(expected) == 3:
            if values.min() < -1.0 - 1e-3 or values.max() > 1.0 + 1e-3:
                raise ValueError(
                    "Images must be scaled to [-1, 1] (the generator's tanh "
                    f"range); got values in [{values.min()}, {values.max()}]. "
                    "kmgan.data.load scales images for you; for uint8 arrays "
                    "use x / 127.5 - 1."
                )

    @property
    def data_shape(self):
        """Shape of one real example, as the game's generator produces it."""
        raise NotImplementedError


def _is_dataset(x):
    return hasattr(x, "take") and hasattr(x, "element_spec")  # tf.data.Dataset


def _first_batch(x, batch_size=None):
    """Returns the real-data tensor of the first batch of `x`, or raises.

    Arrays are cut to their first `batch_size` examples (Keras' default 32),
    the batch `fit` takes first without shuffling.
    """
    arrays = False
    if _is_dataset(x):
        batches = list(x.take(1).as_numpy_iterator())
        if not batches:
            raise ValueError(
                "The dataset yields no batch. It is empty, or smaller than "
                "one batch with drop_remainder=True."
            )
        batch = batches[0]
    elif isinstance(x, (list, tuple)) or hasattr(x, "shape"):
        batch = x
        arrays = True
    else:
        batch = next(iter(x))
    if isinstance(batch, dict):
        raise ValueError("Pass real data as x or (x, labels), not a dict.")
    if isinstance(batch, (list, tuple)):
        batch = batch[0]
    if arrays and hasattr(batch, "shape") and len(batch.shape):
        batch = batch[: batch_size or 32]
    if getattr(batch, "shape", (0,))[0] == 0:
        raise ValueError("The training data is empty.")
    return batch


def _with_accumulation(mapping, steps):
    """`mapping` with each named player's optimizer accumulating gradients."""
    if steps is None:
        return mapping
    per_player = dict(steps) if isinstance(steps, dict) else dict.fromkeys(mapping, steps)
    unknown = set(per_player) - set(mapping)
    if unknown:
        raise ValueError(
            f"accumulation_steps names no player {sorted(unknown)}; the players "
            f"are {sorted(mapping)}."
        )
    if any(k not in (None, 1) for k in per_player.values()) and _under_tf_strategy():
        raise ValueError(
            "accumulation_steps does not work under a tf.distribute strategy (Keras' "
            "accumulation branches around a cross-replica sum, which tf.distribute "
            "refuses); use a larger global batch over the replicas instead."
        )
    mapping = dict(mapping)
    for player, k in per_player.items():
        if k is None or k == 1:
            continue
        if isinstance(k, bool) or int(k) != k or int(k) < 2:
            raise ValueError(
                f"accumulation_steps must be an integer >= 2 (or 1/None for "
                f"none); got {k!r} for '{player}'."
            )
        optimizer = keras.optimizers.get(mapping[player])
        config = optimizer.get_config()
        config["gradient_accumulation_steps"] = int(k)
        mapping[player] = optimizer.__class__.from_config(config)
    return mapping


def _apply(optimizer, grads, variables):
    """`optimizer.apply(grads, variables)`, also for a loss-scale optimizer
    on JAX: its `apply` branches on the gradients' finiteness with side
    effects in each branch, which JAX cannot trace; its `stateless_apply`
    can, and its results are written back here."""
    if keras.backend.backend() != "jax" or not isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer
    ):
        optimizer.apply(grads, variables)
        return
    new_values, new_state = optimizer.stateless_apply(
        [v.value for v in optimizer.variables], grads, [v.value for v in variables]
    )
    for variable, value in zip(variables, new_values):
        variable.assign(value)
    for variable, value in zip(optimizer.variables, new_state):
        variable.assign(value)


def _under_tf_strategy():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy()


def _with_loss_scaling(mapping):
    """Under `mixed_float16`, every player's optimizer in a
    `LossScaleOptimizer` (dynamic loss scaling, one scale per player)."""
    if keras.config.dtype_policy().name != "mixed_float16":
        return mapping
    wrap = keras.optimizers.LossScaleOptimizer
    return {
        player: optimizer if isinstance(optimizer, wrap) else wrap(keras.optimizers.get(optimizer))
        for player, optimizer in mapping.items()
    }


def _optimizer_name(key):
    """The role or player a compile keyword names: `d_optimizer` -> discriminator."""
    name = key[: -len("_optimizer")] if key.endswith("_optimizer") else key
    return _SHORT_ROLES.get(name, name)


def _keyword_options(fn):
    """Names of the keyword options of a bound `default_optimizers`."""
    return {
        n
        for n, p in inspect.signature(fn).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
