"""`GameModel`: the base class of every kmgan game."""

import types

import keras
import numpy as np
from keras import ops

from kmgan.engine import backend_step
from kmgan.engine.optimizers import PlayerOptimizers


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
    move) and JAX (a pure function per move inside a `StatelessScope`). All
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
        super().__init__(name=name, **kwargs)
        backend_step.check_supported()
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise")
        self.log_names = tuple(log_names or type(self).log_names)
        # "loss" sums everything a round logs. It is no objective (the players
        # pull against each other) but it is finite exactly when every logged
        # value is, which is what TerminateOnNaN and friends look at.
        self.loss_trackers = [
            keras.metrics.Mean(name=log_name)
            for log_name in ("loss",) + self.log_names
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
        loss, aux = backend_step.minimize(self, loss_fn, players)
        return loss if aux is None else (loss, aux)

    # ------------------------------------------------------------ compile
    def compile(
        self,
        optimizers,
        jit_compile="auto",
        run_eagerly=False,
        steps_per_execution=1,
    ):
        """Configures one optimizer per player.

        Args:
            optimizers: dict mapping every player's name to its optimizer.
            jit_compile: as in `keras.Model.compile` (XLA on both backends).
            run_eagerly: as in `keras.Model.compile`.
            steps_per_execution: as in `keras.Model.compile`.
        """
        player_variables = self.player_variables()
        unknown = set(optimizers) - set(player_variables)
        missing = set(player_variables) - set(optimizers)
        if unknown or missing:
            raise ValueError(
                f"{type(self).__name__} has players {sorted(player_variables)}; "
                f"got optimizers for {sorted(optimizers)}."
            )
        owner = {}
        for player, variables in player_variables.items():
            for v in variables:
                if id(v) in owner:
                    raise ValueError(
                        f"Variable {v.path} belongs to both '{owner[id(v)]}' "
                        f"and '{player}'."
                    )
                owner[id(v)] = player
        container = PlayerOptimizers(
            {p: optimizers[p] for p in player_variables}
        )
        container.set_player_variables(player_variables)
        # A read-only mapping: Keras would track a dict of variables as the
        # game's own state (and save and carry every weight twice).
        self._player_variables = types.MappingProxyType(
            {p: tuple(vs) for p, vs in player_variables.items()}
        )
        super().compile(
            optimizer=container,
            jit_compile=jit_compile,
            run_eagerly=run_eagerly,
            steps_per_execution=steps_per_execution,
        )

    # ------------------------------------------------------------ engine
    def train_step(self, *args):
        return backend_step.train_step(self, *args)

    def test_step(self, *args):
        raise NotImplementedError(
            f"{type(self).__name__} has no single loss to evaluate; use "
            "kmgan.metrics (battle, mode coverage, IS/FID) instead."
        )

    def _play_round(self, data):
        logs = self.play(data)
        missing = set(self.log_names) - set(logs)
        if missing:
            raise KeyError(f"play() did not return logs {sorted(missing)}.")
        logs = dict(logs)
        logs["loss"] = sum(ops.cast(logs[n], "float32") for n in self.log_names)
        for tracker in self.loss_trackers:
            tracker.update_state(logs[tracker.name])
        self.optimizer.iterations.assign_add(1)
        return {t.name: t.result() for t in self.loss_trackers}

    def _variables_of(self, players):
        return [v for p in players for v in self._player_variables[p]]

    def _apply_player_gradients(self, players, grads):
        start = 0
        for player in players:
            variables = self._player_variables[player]
            stop = start + len(variables)
            if variables:
                self.optimizer[player].apply(list(grads[start:stop]), list(variables))
            start = stop

    # ------------------------------------------------------------- saving
    def save_own_variables(self, store):
        # Keras saves a SeedGenerator with its layer but not with a model's
        # own state; a resumed game must draw the same noise it would have.
        super().save_own_variables(store)
        store["noise_state"] = self.seed_generator.state

    def load_own_variables(self, store):
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

        Bad data (wrong rank or channel count, images outside [-1, 1], an
        empty dataset) raises a `ValueError` before any training step.
        """
        self.check_data(_first_batch(x))
        if _is_dataset(x):
            kwargs.setdefault("shuffle", False)  # a tf.data pipeline shuffles itself
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
        if len(expected) == 3:
            values = np.asarray(ops.convert_to_numpy(batch))
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


def _first_batch(x):
    """Returns the real-data tensor of the first batch of `x`, or raises."""
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
    else:
        batch = next(iter(x))
    if isinstance(batch, dict):
        raise ValueError("Pass real data as x or (x, labels), not a dict.")
    if isinstance(batch, (list, tuple)):
        batch = batch[0]
    if getattr(batch, "shape", (0,))[0] == 0:
        raise ValueError("The training data is empty.")
    return batch
