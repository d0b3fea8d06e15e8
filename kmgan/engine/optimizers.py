"""One Keras optimizer that holds every player's optimizer.

Keras trainers carry exactly one optimizer's state through `fit`: the one at
`model.optimizer`. On JAX that is not a detail: an optimizer kept only as an
attribute never sees its updated state (Adam's moments stay at zero, its
`iterations` stays 0) and nothing fails. `PlayerOptimizers` is that one
optimizer: its `variables` list its own step counter followed by every
player's optimizer state, so the trainer carries all of it, and saving the
model (or `BackupAndRestore`) writes all of it.
"""

import types

import keras


def clone_optimizer(optimizer):
    """Returns a fresh, unbuilt optimizer with `optimizer`'s configuration."""
    optimizer = keras.optimizers.get(optimizer)
    return optimizer.__class__.from_config(optimizer.get_config())


@keras.saving.register_keras_serializable(package="kmgan")
class PlayerOptimizers(keras.optimizers.Optimizer):
    """A container optimizer mapping player names to their own optimizers.

    It is never used to apply gradients itself: the game engine applies each
    player's optimizer to that player's variables. Its own `iterations`
    counts rounds of the game (one `train_step`), which is what Keras
    callbacks such as `TensorBoard` read.

    Args:
        optimizers: dict mapping player name to a `keras.optimizers.Optimizer`
            (or an identifier `keras.optimizers.get` understands). One
            optimizer instance may serve one player only.
        name: name of the container.
    """

    def __init__(self, optimizers, name="player_optimizers", **kwargs):
        kwargs.pop("learning_rate", None)
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        if not optimizers:
            raise ValueError("PlayerOptimizers needs at least one player.")
        self.player_names = list(optimizers)
        self.player_optimizers = [keras.optimizers.get(optimizers[n]) for n in self.player_names]
        seen = {}
        for player, opt in zip(self.player_names, self.player_optimizers):
            if id(opt) in seen:
                raise ValueError(
                    f"Players '{seen[id(opt)]}' and '{player}' were given the "
                    "same optimizer instance. Each player needs its own "
                    "optimizer state: pass separate instances (or use "
                    "kmgan.engine.clone_optimizer)."
                )
            seen[id(opt)] = player
        self._player_variables = None

    def __getitem__(self, player):
        return self.player_optimizers[self.player_names.index(player)]

    def set_player_variables(self, player_variables):
        """Tells the container which variables each player owns.

        Args:
            player_variables: dict mapping player name to a list of variables.
        """
        missing = set(self.player_names) - set(player_variables)
        if missing:
            raise ValueError(f"No variables given for players {sorted(missing)}.")
        # Not a dict: the optimizer would track the players' weights as its own.
        self._player_variables = types.MappingProxyType(
            {n: tuple(player_variables[n]) for n in self.player_names}
        )

    def build(self, var_list):
        if self.built:
            return
        if self._player_variables is None:
            raise ValueError(
                "PlayerOptimizers.build() needs the players' variables; the "
                "game's compile() sets them."
            )
        for player, opt in zip(self.player_names, self.player_optimizers):
            if not opt.built:
                opt.build(list(self._player_variables[player]))
        super().build(var_list)

    @property
    def optimizers(self):
        """The players' optimizers, in player order (as MultiOptimizer's)."""
        return list(self.player_optimizers)

    @property
    def variables(self):
        variables = list(self._variables)
        for opt in self.player_optimizers:
            variables.extend(opt.variables)
        return variables

    @property
    def learning_rate(self):
        raise AttributeError(
            "A game has one learning rate per player: read it from "
            "`model.optimizer[player].learning_rate`."
        )

    @learning_rate.setter
    def learning_rate(self, value):
        # The base constructor sets a placeholder rate; players keep their own.
        self._learning_rate = value

    def apply(self, grads, trainable_variables=None):
        raise RuntimeError(
            "PlayerOptimizers does not apply gradients itself; a game's "
            "players are updated through GameModel.minimize()."
        )

    def get_config(self):
        return {
            "name": self.name,
            "optimizers": {
                n: keras.optimizers.serialize(o)
                for n, o in zip(self.player_names, self.player_optimizers)
            },
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizers"] = {
            n: keras.optimizers.deserialize(o, custom_objects=custom_objects)
            for n, o in config["optimizers"].items()
        }
        return cls(**config)
