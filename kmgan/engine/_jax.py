"""The player update on JAX: a pure function of one player's variables.

`fit` hands `train_step` the whole model state as a tuple of arrays. The
round of the game runs, as ordinary stateful Keras code, inside one
`StatelessScope` holding that state. Each player's move re-enters the state
in a nested scope where the player's variables are the arguments of a pure
function, takes `jax.value_and_grad` of it, writes back the side effects the
loss had on non-trainable state (batch-norm statistics, the noise seed) and
applies the player's optimizer; every write lands in the outer scope, from
which the new state is read at the end of the round.
"""

import jax
from keras import StatelessScope
from keras.src.backend.common.stateless_scope import get_stateless_scope


def _state_groups(model):
    return (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )


def train_step(model, state, data):
    groups = _state_groups(model)
    mapping = []
    for variables, values in zip(groups, state):
        mapping.extend(zip(variables, values))
    with StatelessScope(state_mapping=mapping) as scope:
        logs = model._play_round(data)
    new_state = tuple([scope.get_current_value(v) for v in variables] for variables in groups)
    return logs, new_state


def minimize(model, loss_fn, players):
    outer = get_stateless_scope()
    if outer is None:
        raise RuntimeError(
            "GameModel.minimize() runs inside a training step (fit / "
            "train_on_batch) on the JAX backend."
        )
    variables = model._variables_of(players)
    carried = [v for group in _state_groups(model) for v in group]
    current = [(v, outer.get_current_value(v)) for v in carried]
    side_effects = model.non_trainable_variables

    def loss_of(values):
        with StatelessScope(state_mapping=current + list(zip(variables, values))) as inner:
            result = loss_fn()
        loss, aux = result if isinstance(result, tuple) else (result, None)
        return loss, (aux, [inner.get_current_value(v) for v in side_effects])

    values = [outer.get_current_value(v) for v in variables]
    (loss, (aux, updates)), grads = jax.value_and_grad(loss_of, has_aux=True)(values)
    for variable, value in zip(side_effects, updates):
        variable.assign(value)
    model._apply_player_gradients(players, grads)
    return loss, aux


def input_gradient(fn, x):
    outer = get_stateless_scope()

    def value(x):
        if outer is None:
            return fn(x)
        # A private copy of the state: side effects of fn (e.g. batch-norm
        # statistics) must not leak the inner trace into the round's state.
        scope = StatelessScope()
        scope.state_mapping = dict(outer.state_mapping)
        with scope:
            return fn(x)

    return jax.grad(value)(x)


def replica_id():
    # Under keras.distribution the step is one SPMD program over the
    # global batch: there is no per-replica code to tell apart.
    return 0


def accelerator_present():
    return jax.default_backend() != "cpu"
