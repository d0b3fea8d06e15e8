"""Straight-through Gumbel-softmax and MEGAN's load-balancing loss.

Gumbel-max (Park et al. eq. 1): s = one_hot(argmax_i(l_i + a_i)) with
a_i = -log(-log u_i), u_i ~ U(0, 1), samples from softmax(l).

Gumbel-softmax (eq. 2): y = softmax((l + a) / tau).

Straight-through (eq. 3): the forward value is one_hot(argmax y), which is
s (dividing by tau > 0 does not move the argmax); the backward pass is
that of y. We write it as `one_hot + (y - stop_gradient(y))`, so that the
forward value is exactly one-hot in floating point (the paper's
`y + (one_hot - y_detached)` can round the 1 to 1 - ulp).

Load balancing (eq. 9): L_LB = sum_i (p_i - 1/n)^2 with p_i the fraction of
the batch assigned to generator i. Computed on the straight-through
assignments, p_i has exactly that value in the forward pass and the
gradient of the soft assignments in the backward pass, which is how the
gate learns to balance.

Temperature (section 5.1): tau = 0.5 * exp(-0.001 * iteration), floored at
`min_temperature` (the schedule underflows float32 near iteration 87,000,
where 1/tau would overflow; below ~1e-3 it changes nothing in practice:
the forward pass never depends on tau and the soft sample is already
one-hot to float precision). Algorithm 1 as printed sets `iter <- 0` inside
its training loop, which would hold tau at 0.5; section 5.1 calls `iter`
"the iteration number as in the Algorithm 1", so we count rounds. Only the
gradient depends on tau: the straight-through gradient into the logits
scales as 1/tau where y is not yet one-hot (0.5 at round 0, 0.18 at round
1,000, 0.03 at round 2,800).
"""

import keras
from keras import ops


def gumbel_noise(shape, seed):
    """Standard Gumbel noise -log(-log u), u ~ U(0, 1).

    Args:
        shape: noise shape.
        seed: a `keras.random.SeedGenerator` (a game's `seed_generator`) or
            an int.
    """
    u = keras.random.uniform(shape, minval=1e-7, maxval=1.0, seed=seed)
    return -ops.log(-ops.log(u))


def gumbel_softmax(logits, temperature, noise):
    """Soft Gumbel-softmax sample softmax((logits + noise) / temperature)."""
    # In float32 whatever the networks compute in (mixed precision).
    logits = ops.cast(logits, "float32")
    return ops.softmax((logits + ops.cast(noise, "float32")) / temperature, axis=-1)


def straight_through(soft):
    """One-hot of argmax(soft) forward, gradient of `soft` backward."""
    hard = ops.one_hot(ops.argmax(soft, axis=-1), ops.shape(soft)[-1], dtype=soft.dtype)
    return hard + (soft - ops.stop_gradient(soft))


def straight_through_gumbel_softmax(logits, temperature, noise=None, seed=None):
    """MEGAN's STGS module: a one-hot sample with a Gumbel-softmax gradient.

    Args:
        logits: (batch, n) unnormalised log-probabilities l.
        temperature: tau > 0 (scalar or tensor).
        noise: Gumbel noise of the logits' shape; drawn from `seed` when
            None.
        seed: `keras.random.SeedGenerator` (or int) for the noise.

    Returns:
        (batch, n), exactly one-hot in the forward pass.
    """
    if noise is None:
        if seed is None:
            raise ValueError("Pass Gumbel `noise` or a `seed` to draw it from.")
        noise = gumbel_noise(ops.shape(logits), seed)
    logits = ops.convert_to_tensor(logits)
    return straight_through(gumbel_softmax(logits, temperature, noise))


def load_balancing_loss(assignments):
    """L_LB = sum_i (p_i - 1/n)^2, p_i = mean over the batch of assignment i.

    Args:
        assignments: (batch, n) one-hot (or straight-through) assignments.

    Returns:
        Scalar; 0 exactly when every generator gets batch/n examples.
    """
    assignments = ops.convert_to_tensor(assignments)
    n = ops.shape(assignments)[-1]
    p = ops.mean(assignments, axis=0)
    return ops.sum(ops.square(p - 1.0 / n))


def megan_temperature(iteration, initial=0.5, rate=1e-3, min_temperature=1e-3):
    """tau = max(initial * exp(-rate * iteration), min_temperature)."""
    iteration = ops.cast(iteration, "float32")
    return ops.maximum(initial * ops.exp(-rate * iteration), min_temperature)
