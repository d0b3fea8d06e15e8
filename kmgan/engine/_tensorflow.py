"""The player update on TensorFlow: a GradientTape and `optimizer.apply`."""

import tensorflow as tf


def train_step(model, data):
    logs = model._play_round(data)
    if _multi_worker():
        # Keras reduces multi-worker logs with strategy.reduce(MEAN, axis=0),
        # which needs a batch axis: give each scalar one.
        logs = {name: tf.reshape(value, (1,)) for name, value in logs.items()}
    return logs


def _multi_worker():
    if not tf.distribute.has_strategy():
        return False
    strategy = tf.distribute.get_strategy()
    extended = getattr(strategy, "extended", None)
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        getattr(extended, "_in_multi_worker_mode", lambda: False)()
    )


def num_replicas():
    """Replicas of the current tf.distribute strategy (1 without one)."""
    return tf.distribute.get_strategy().num_replicas_in_sync if tf.distribute.has_strategy() else 1


def replica_id():
    """This replica's index in its sync group (0 without a strategy)."""
    if not tf.distribute.has_strategy():
        return 0
    context = tf.distribute.get_replica_context()
    return 0 if context is None else context.replica_id_in_sync_group


def minimize(model, loss_fn, players):
    variables = model._variables_of(players)
    replicas = num_replicas()
    with tf.GradientTape() as tape:
        loss, aux = _split(loss_fn())
        # The optimizer sums the replicas' gradients (as for Keras' own
        # compute_loss): each replica's share of the mean is loss / R.
        scaled = loss / replicas if replicas > 1 else loss
    grads = tape.gradient(scaled, variables)
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
