"""The player update on TensorFlow: a GradientTape and `optimizer.apply`."""

import tensorflow as tf


def train_step(model, data):
    return model._play_round(data)


def minimize(model, loss_fn, players):
    variables = model._variables_of(players)
    with tf.GradientTape() as tape:
        loss, aux = _split(loss_fn())
    grads = tape.gradient(loss, variables)
    # A variable the loss does not reach gets a zero gradient, as on JAX.
    grads = [tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(grads, variables)]
    model._apply_player_gradients(players, grads)
    return loss, aux


def _split(result):
    if isinstance(result, tuple):
        return result
    return result, None


def input_gradient(fn, x):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x)


def accelerator_present():
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))
