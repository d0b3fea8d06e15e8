"""The player update on PyTorch: `torch.autograd.grad` and `optimizer.apply`.

Keras' torch trainer runs `train_step` eagerly (or under `torch.compile`),
with autograd recording every op on the variables' parameters. Each move
computes its player's loss, takes the gradient with respect to that
player's parameters only (`torch.autograd.grad`, so no `.grad` field of
another player is touched), and applies the player's optimizer without
recording. The other players' parameters stay where they were: the
gradient of a move never leaks into the next one.
"""

import keras
import torch


def train_step(model, data):
    logs = model._play_round(data)
    # The logs hold the last move's graph; the trackers need only the values.
    return {name: value.detach() for name, value in logs.items()}


def minimize(model, loss_fn, players):
    variables = model._variables_of(players)
    loss, aux = _split(loss_fn())
    parameters = [v.value for v in variables]
    grads = torch.autograd.grad(loss, parameters, allow_unused=True)
    # A variable the loss does not reach gets a zero gradient, as on JAX.
    grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, parameters)]
    with torch.no_grad():
        model._apply_player_gradients(players, grads)
    return loss.detach(), _detach(aux)


def _split(result):
    if isinstance(result, tuple):
        return result
    return result, None


def _detach(structure):
    return keras.tree.map_structure(
        lambda t: t.detach() if isinstance(t, torch.Tensor) else t, structure
    )


def input_gradient(fn, x):
    # The penalty built on this gradient is itself differentiated by the
    # player's move: keep its graph.
    x = torch.as_tensor(x).detach().requires_grad_(True)
    y = fn(x)
    (grad,) = torch.autograd.grad(y, x, create_graph=True)
    return grad


def replica_id():
    return 0


def accelerator_present():
    return torch.cuda.is_available()
