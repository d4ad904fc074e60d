"""RIDE's expert-assignment router ("EA", Wang et al. ICLR 2021, Sec. 3.3).

After expert i (i = 0 .. E - 2) a router decides per example whether to
consult expert i + 1; the prediction is the mean of the consulted experts'
logits, and the average number of experts used measures the compute saving.
It is trained in a second stage on the frozen expert model.

As RIDE's official code (`model/ldam_drw_resnets/ea_resnet_cifar.py` and
`model/fb_resnets/EAResNet.py`, `pred_expert_help` / `forward`):

* Router input at step i: the top-k values (sorted, descending) of the running
  ensemble m_i = (z_0 + ... + z_i) / (i + 1), concatenated with
  relu(W_i f_i / ||f_i|| + b_i), a per-step 16-unit hidden layer on expert i's
  L2-normalised pooled features f_i; then one linear unit shared by all steps
  (`share_expert_help_pred_fc=True`) gives the routing logit r_i.
* Target of step i: t_i = (argmax m_i != y) and (argmax m_j == y for some
  j > i): "expert i's ensemble is wrong and a later one is right".
* Loss: the mean over steps of BCE-with-logits(r_i, t_i) with
  pos_weight (PyTorch's: -[w t log s(r) + (1 - t) log(1 - s(r))], mean over
  examples).
* Test: continue while sigmoid(r_i) > 0.5; an example that stops is not
  routed further.

Defaults of the original's configs: k (`top_choices_num`) = 30 for
CIFAR-100-LT, 50 for ImageNet-LT / iNaturalist (class default 5);
pos_weight = 100 (class default 20); 5 epochs, batch 512, SGD lr 0.01,
momentum 0.9, Nesterov, weight decay 5e-4, cosine annealing to 0 (T_max 5);
threshold 0.5. `fit_router` uses those optimiser settings.

Differences: (1) `features` are optional; without them the router sees only
the top-k logits (no hidden layer), so it can be trained from cached logits
alone. (2) The original samples the training set class-balanced
("balanced": true in its EA configs); `fit_router` shuffles uniformly, pass a
balanced set of examples to match. (3) The original's logits are scaled by s
(30 for a normalized head) inside the model: pass the logits the loss sees,
s * cosines. (4) `route` evaluates the router on every example and masks
(same result, no compute skipped). (5) The router's Dense layers use Flax's
default init (LeCun normal kernel, zero bias), not the original's Kaiming
normal (CIFAR) / PyTorch default (ImageNet).

Cache the inputs with the frozen model in eval mode (BatchNorm running
statistics), as the original freezes every non-router parameter and BN.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from ltjax import _validation

_HIDDEN = 16  # the original's expert_hidden_fc_output_dim


def _check_expert_logits(expert_logits) -> jax.Array:
  z = jnp.asarray(expert_logits, jnp.float32)
  if z.ndim != 3 or z.shape[0] < 2:
    raise ValueError(
        "expert_logits must have shape [E, N, C] with E >= 2 experts, got "
        f"shape {z.shape}.")
  return z


def running_means(expert_logits: jax.Array) -> jax.Array:
  """m_i = (z_0 + ... + z_i) / (i + 1): float [E, N, C] -> float32 [E, N, C]."""
  z = jnp.asarray(expert_logits, jnp.float32)
  counts = jnp.arange(1, z.shape[0] + 1, dtype=jnp.float32)
  return jnp.cumsum(z, axis=0) / counts[:, None, None]


class ExpertRouter(nn.Module):
  """Routing logits r_i for steps i = 0 .. E - 2 (see the module docstring).

  Attributes:
    num_experts: E >= 2.
    top_choices_num: k, the number of top logits of m_i the router sees.
    use_features: whether it also sees the experts' pooled features.
    hidden: width of the per-step feature layer (16 in the original).
  """
  num_experts: int
  top_choices_num: int = 5
  use_features: bool = True
  hidden: int = _HIDDEN

  @nn.compact
  def __call__(self, expert_logits: jax.Array,
               features: jax.Array | None = None) -> jax.Array:
    """Routing logits.

    Args:
      expert_logits: float [E, N, C], per-expert logits (k <= C).
      features: float [E, N, D], per-expert pooled features; required iff
        `use_features`.

    Returns:
      float32 [E - 1, N]; sigmoid(r_i) > threshold means "consult expert
      i + 1".
    """
    m = running_means(expert_logits)[:-1]
    if self.top_choices_num > m.shape[-1]:
      raise ValueError(
          f"top_choices_num ({self.top_choices_num}) must be <= the number of "
          f"classes ({m.shape[-1]}).")
    topk = jax.lax.top_k(m, self.top_choices_num)[0]
    decide = nn.Dense(1, name="decide")
    out = []
    for i in range(self.num_experts - 1):
      x = topk[i]
      if self.use_features:
        if features is None:
          raise ValueError(
              "features [E, N, D] are required: this router was built with "
              "use_features=True.")
        f = jnp.asarray(features[i], jnp.float32)
        f = f / jnp.linalg.norm(f, axis=-1, keepdims=True)
        h = nn.relu(nn.Dense(self.hidden, name=f"hidden_{i}")(f))
        x = jnp.concatenate([x, h], axis=-1)
      out.append(decide(x)[:, 0])
    return jnp.stack(out)


def _router_from_params(params, num_experts: int) -> ExpertRouter:
  use_features = "hidden_0" in params
  width = params["decide"]["kernel"].shape[0]
  hidden = params["hidden_0"]["kernel"].shape[1] if use_features else 0
  return ExpertRouter(num_experts=num_experts, top_choices_num=width - hidden,
                      use_features=use_features, hidden=hidden or _HIDDEN)


def router_targets(expert_logits: jax.Array, labels: jax.Array) -> jax.Array:
  """t_i = (argmax m_i != y) & any_{j > i}(argmax m_j == y), i < E - 1.

  Args:
    expert_logits: float [E, N, C].
    labels: int [N].

  Returns:
    bool [E - 1, N].
  """
  z = _check_expert_logits(expert_logits)
  y = jnp.asarray(labels)
  if y.shape != z.shape[1:2]:
    raise ValueError(
        f"labels must have shape [N] = ({z.shape[1]},), got {y.shape}.")
  correct = jnp.argmax(running_means(z), axis=-1) == y[None, :]
  later = jnp.flip(jnp.cumsum(jnp.flip(correct, 0), axis=0) > 0, 0)
  return (~correct[:-1]) & later[1:]


def router_loss(routing_logits: jax.Array, targets: jax.Array, *,
                pos_weight: float = 100.0) -> jax.Array:
  """mean_i mean_n -[w t log s(r) + (1 - t) log(1 - s(r))]; r, t [E-1, N]."""
  t = jnp.asarray(targets, jnp.float32)
  r = jnp.asarray(routing_logits, jnp.float32)
  per = -(pos_weight * t * jax.nn.log_sigmoid(r)
          + (1.0 - t) * jax.nn.log_sigmoid(-r))
  return jnp.mean(per)


def fit_router(expert_logits: jax.Array, labels: jax.Array, *,
               key: jax.Array, num_epochs: int = 5, batch_size: int = 512,
               learning_rate: float = 0.01, features: jax.Array | None = None,
               top_choices_num: int = 5, pos_weight: float = 100.0,
               momentum: float = 0.9, weight_decay: float = 5e-4):
  """Trains an `ExpertRouter` on cached per-expert outputs of a frozen model.

  SGD (Nesterov momentum, weight decay added to the gradient, lr annealed
  by a cosine to 0 over all steps, as the original's per-epoch
  CosineAnnealingLR with T_max = epochs up to step granularity) on
  `router_loss` with `router_targets`; each epoch a fresh permutation of the
  N examples from `key`, cut into ceil(N / batch_size) batches (the last
  filled by wrapping around). Deterministic given `key`.

  Args:
    expert_logits: float [E, N, C], E >= 2 (the training set's).
    labels: int [N].
    key: PRNG key (init and shuffling).
    num_epochs, batch_size, learning_rate: positive; original 5, 512, 0.01.
    features: optional float [E, N, D] pooled features (the original uses
      them); without them the router sees the top-k logits only.
    top_choices_num: k <= C (original 30 on CIFAR-100, 50 on ImageNet-LT).
    pos_weight: BCE weight of positive targets (original 100).
    momentum, weight_decay: 0.9 and 5e-4 as the original.

  Returns:
    The router's params (use with `route`).
  """
  z = _check_expert_logits(expert_logits)
  targets = router_targets(z, labels)
  num_experts, n = z.shape[:2]
  for name, value in (("num_epochs", num_epochs), ("batch_size", batch_size)):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
      raise ValueError(f"{name} must be a positive int, got {value!r}.")
  if not learning_rate > 0:
    raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}.")
  _validation.check_scalar(pos_weight, "pos_weight", minimum=0.0)
  if features is not None:
    features = jnp.asarray(features, jnp.float32)
    if features.ndim != 3 or features.shape[:2] != z.shape[:2]:
      raise ValueError(
          f"features must have shape [E, N, D] = ({num_experts}, {n}, D), "
          f"got {features.shape}.")
  router = ExpertRouter(num_experts=num_experts,
                        top_choices_num=top_choices_num,
                        use_features=features is not None)
  init_key, shuffle_key = jax.random.split(key)
  params = router.init(init_key, z[:, :1],
                       None if features is None else features[:, :1])["params"]
  steps_per_epoch = -(-n // batch_size)
  total = num_epochs * steps_per_epoch
  tx = optax.chain(
      optax.add_decayed_weights(weight_decay),
      optax.sgd(optax.cosine_decay_schedule(learning_rate, total),
                momentum=momentum, nesterov=True))
  opt_state = tx.init(params)

  def loss_fn(p, idx):
    f = None if features is None else features[:, idx]
    r = router.apply({"params": p}, z[:, idx], f)
    return router_loss(r, targets[:, idx], pos_weight=pos_weight)

  def step(carry, idx):
    p, s = carry
    grads = jax.grad(loss_fn)(p, idx)
    updates, s = tx.update(grads, s, p)
    return (optax.apply_updates(p, updates), s), None

  def epoch(carry, k):
    perm = jax.random.permutation(k, n)
    perm = jnp.resize(perm, (steps_per_epoch * batch_size,))
    return jax.lax.scan(step, carry,
                        perm.reshape(steps_per_epoch, batch_size))[0], None

  @jax.jit
  def run(p, s):
    keys = jax.random.split(shuffle_key, num_epochs)
    return jax.lax.scan(epoch, (p, s), keys)[0][0]

  return run(params, opt_state)


def route(params, expert_logits: jax.Array, *, threshold: float = 0.5,
          features: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
  """The routed ensemble: mean of the experts each example consults.

  a_0 = 1, a_{i+1} = a_i and sigmoid(r_i) > threshold; the output is
  sum_i a_i z_i / sum_i a_i and experts_used = sum_i a_i. Its mean over
  examples is RIDE's average number of experts (the compute saving).

  Args:
    params: from `fit_router` (or `ExpertRouter.init`).
    expert_logits: float [E, N, C].
    threshold: in [0, 1]; the original uses 0.5.
    features: float [E, N, D], required iff the router uses features.

  Returns:
    logits float32 [N, C] and experts_used int32 [N] in [1, E].
  """
  z = _check_expert_logits(expert_logits)
  router = _router_from_params(params, z.shape[0])
  r = router.apply({"params": params}, z, features)
  go = jax.nn.sigmoid(r) > threshold
  active = jnp.concatenate(
      [jnp.ones((1, z.shape[1]), bool), jnp.cumprod(go, axis=0).astype(bool)])
  used = jnp.sum(active, axis=0).astype(jnp.int32)
  logits = jnp.sum(jnp.where(active[..., None], z, 0.0), axis=0)
  return logits / used[:, None].astype(jnp.float32), used
