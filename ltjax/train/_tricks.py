"""Speed-run training tricks of airbench and hlb-CIFAR10, as pure functions.

The fast CIFAR-10 recipes (Keller Jordan's airbench,
github.com/KellerJordan/cifar10-airbench, and tysam-code's hlb-CIFAR10) reach
94% in seconds with a handful of tricks that are independent of the model:
label smoothing, test-time augmentation (TTA), a frozen patch-whitening first
convolution, derandomised ("alternating") flips, and short one-cycle or
triangular learning-rate schedules. Each is written here as a small pure
function that a task, a config or a notebook can compose:

* `smoothed_loss` — label smoothing of any per-example loss of a class label.
* `tta_logits` — airbench's mirror / mirror+translate test-time augmentation.
* `whitening_kernel` — airbench's `init_whitening_conv`, for a Flax `Conv`.
* `alternating_flip` — airbench's every-other-epoch flip.
* `one_cycle_schedule`, `linear_decay_schedule`, `scaled_learning_rate` —
  learning-rate helpers.

Every argument check raises `ValueError` naming the argument, at trace time.
"""

from collections.abc import Callable
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

PerExampleLoss = Callable[[jax.Array, jax.Array], jax.Array]
Apply = Callable[[jax.Array], jax.Array]

TTA_MODES = ("none", "flip", "flip_translate")
LR_SCALING_RULES = ("none", "linear", "sqrt")


# --------------------------------------------------------------------------
# Label smoothing.
# --------------------------------------------------------------------------


def smoothed_loss(per_example: PerExampleLoss, num_classes: int,
                  smoothing: float) -> PerExampleLoss:
  """Returns `per_example` with its labels smoothed towards uniform.

  For logits `z` [B, C], labels `y` [B] and smoothing `eps`:

    L_eps(z, y) = (1 - eps) * L(z, y) + eps / C * sum_{c=0}^{C-1} L(z, c),

  i.e. the expectation of `L` under the target distribution
  `(1 - eps) * onehot(y) + eps / C`, for any loss `L` that is a function of
  one class label (LDAM, logit-adjusted, balanced-softmax, ...). For
  `L = cross_entropy` this is exactly PyTorch's
  `F.cross_entropy(z, y, label_smoothing=eps, reduction="none")` without
  class weights, as used by airbench (eps = 0.2) and hlb-CIFAR10.
  The C terms `L(z, c)` are computed with one `jax.vmap` over the classes.

  Args:
    per_example: `(logits [B, C], labels int [B]) -> [B]`; bind any other
      arguments with `functools.partial` first.
    num_classes: C >= 1, the width of the logits.
    smoothing: eps in [0, 1). With eps == 0 `per_example` itself is returned
      (the same object), so a config without smoothing is unchanged.

  Returns:
    `(logits [B, C], labels int [B]) -> [B]`, the smoothed loss.

  Example:
    >>> ce = optax.softmax_cross_entropy_with_integer_labels
    >>> loss = smoothed_loss(ce, num_classes=10, smoothing=0.2)

  References:
    Szegedy et al., Rethinking the Inception Architecture (1512.00567);
    PyTorch `torch.nn.functional.cross_entropy(label_smoothing=...)`.
  """
  if not callable(per_example):
    raise ValueError(
        f"per_example must be a callable (logits, labels) -> [B], got "
        f"{type(per_example).__name__}.")
  if isinstance(num_classes, bool) or not isinstance(
      num_classes, (int, np.integer)) or num_classes < 1:
    raise ValueError(
        f"num_classes must be a positive int, got {num_classes!r}.")
  eps = _python_float(smoothing, "smoothing")
  if not 0.0 <= eps < 1.0:
    raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}.")
  if eps == 0.0:
    return per_example
  num_classes = int(num_classes)

  def loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    if logits.ndim < 1 or logits.shape[-1] != num_classes:
      raise ValueError(
          f"logits must have shape [B, {num_classes}] (num_classes="
          f"{num_classes}), got shape {logits.shape}.")
    if not jnp.issubdtype(labels.dtype, jnp.integer):
      raise ValueError(
          f"labels must be an integer array, got dtype {labels.dtype}.")

    def loss_of_class(c):
      return per_example(logits, jnp.full(labels.shape, c, labels.dtype))

    classes = jnp.arange(num_classes, dtype=labels.dtype)
    uniform = jnp.sum(jax.vmap(loss_of_class)(classes), axis=0)
    return (1.0 - eps) * per_example(logits, labels) + (
        eps / num_classes) * uniform

  return loss


# --------------------------------------------------------------------------
# Test-time augmentation.
# --------------------------------------------------------------------------


def _flip_lr(images: jax.Array) -> jax.Array:
  """Mirrors NHWC images left-right (the width axis)."""
  return images[:, :, ::-1, :]


def _mirror_logits(apply: Apply, images: jax.Array) -> jax.Array:
  """airbench's `infer_mirror`: mean of the logits of x and flip(x), float32."""
  return 0.5 * (apply(images).astype(jnp.float32) +
                apply(_flip_lr(images)).astype(jnp.float32))


def _translations(images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The two one-pixel translations of airbench's TTA, NHWC.

  The images are reflect-padded by one pixel on each side of H and W, then
  cropped back to [H, W] at offset (0, 0) and at offset (2, 2), as airbench's
  `padded_inputs[:, :, 0:32, 0:32]` and `padded_inputs[:, :, 2:34, 2:34]`.
  """
  _, height, width, _ = images.shape
  padded = jnp.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
  return (padded[:, :height, :width, :],
          padded[:, 2:height + 2, 2:width + 2, :])


def tta_logits(apply: Apply, images: jax.Array, mode: str) -> jax.Array:
  """Returns test-time-augmented logits of `images`, in float32.

  With f = `apply`, m(x) = (f(x) + f(flip(x))) / 2 (flip: left-right mirror)
  and t1, t2 the two one-pixel translations (reflect-pad by 1 pixel, crop at
  offset (0, 0) and (2, 2)):

    "none":           f(x)
    "flip":           m(x)
    "flip_translate": 0.5 * m(x) + 0.25 * m(t1(x)) + 0.25 * m(t2(x))

  "flip" and "flip_translate" are airbench94's `infer_mirror` and
  `infer_mirror_translate` (tta_level 1 and 2;
  github.com/KellerJordan/cifar10-airbench, airbench94.py): the expectation
  of the logits when the image is mirrored with probability 1/2 and
  translated by one pixel (up-left or down-right, each with probability 1/4).
  hlb-CIFAR10 uses the same rule. Each view is a separate call of `apply`, so
  the memory of one call is unchanged; the logits are averaged in float32.

  Args:
    apply: `images float [B, H, W, K] -> logits [B, C]`, the model in
      inference mode.
    images: float [B, H, W, K], H, W >= 2 for the translations.
    mode: "none", "flip" or "flip_translate".

  Returns:
    float32 [B, C].
  """
  if mode not in TTA_MODES:
    raise ValueError(f"mode must be one of {TTA_MODES}, got {mode!r}.")
  if not callable(apply):
    raise ValueError(
        f"apply must be a callable images -> logits, got "
        f"{type(apply).__name__}.")
  images = jnp.asarray(images)
  if images.ndim != 4:
    raise ValueError(
        f"images must have shape [B, H, W, K], got shape {images.shape}.")
  if mode == "none":
    return apply(images).astype(jnp.float32)
  if mode == "flip":
    return _mirror_logits(apply, images)
  if images.shape[1] < 2 or images.shape[2] < 2:
    raise ValueError(
        f"images must have H, W >= 2 for mode 'flip_translate' (reflect "
        f"padding of one pixel), got shape {images.shape}.")
  up_left, down_right = _translations(images)
  return (0.5 * _mirror_logits(apply, images) +
          0.25 * _mirror_logits(apply, up_left) +
          0.25 * _mirror_logits(apply, down_right))


# --------------------------------------------------------------------------
# Patch-whitening initialisation.
# --------------------------------------------------------------------------


def _patch_positions(num_images: int, rows: int, cols: int, *,
                     max_patches: int, seed: int) -> np.ndarray:
  """Flat (image, row, col) indices of the patches used, in sorted order."""
  total = num_images * rows * cols
  if total <= max_patches:
    return np.arange(total)
  rng = np.random.default_rng(seed)
  return np.sort(rng.choice(total, size=max_patches, replace=False))


def whitening_kernel(images: np.ndarray, *, kernel_size: int,
                     out_channels: int, eps: float = 5e-4,
                     max_patches: int = 100_000,
                     seed: int = 0) -> np.ndarray:
  """Returns airbench's patch-whitening conv kernel for a Flax `Conv`.

  With p the kernel_size x kernel_size x K patches of `images` at every valid
  position, flattened in the order (kh, kw, K) (a Flax kernel's layout),
  Sigma = cov(p) (patches centred by their mean) and its eigenpairs
  (lambda_i, v_i) with lambda_1 >= lambda_2 >= ..., the filters are

    w_i = v_i / sqrt(lambda_i + eps),   i = 1 .. out_channels / 2,

  followed by their negatives -w_i, so that a ReLU/GELU after the conv keeps
  both signs. Each w_i^T p has variance lambda_i / (lambda_i + eps) and the
  outputs are uncorrelated: the conv whitens the patches (PCA whitening).

  Source: airbench94's `get_patches` / `get_whitening_parameters` /
  `init_whitening_conv` (github.com/KellerJordan/cifar10-airbench), which
  computes eigenvectors of the patch second moment on 5000 training images
  and sets the frozen first conv to `cat(W, -W)`. Differences: airbench uses
  the uncentred second moment `p^T p / n`; here the mean is removed first, as
  a covariance is defined (they coincide for zero-mean patches, and the
  conv's bias absorbs the mean). The patch layout here is NHWC / HWIO rather
  than PyTorch's NCHW / OIHW. hlb-CIFAR10 builds the same layer.

  Args:
    images: float [N, H, W, K], already normalised as the model sees them.
    kernel_size: kh = kw, 1 <= kernel_size <= min(H, W).
    out_channels: even, with out_channels / 2 <= kh * kw * K.
    eps: > 0, added to the eigenvalues (airbench: 5e-4).
    max_patches: at most this many patches are used, drawn without
      replacement with `numpy.random.default_rng(seed)` when there are more.
    seed: seed of that draw.

  Returns:
    float32 [kh, kw, K, out_channels]: channels [0, out/2) are +w_i by
    decreasing eigenvalue, channels [out/2, out) are -w_i in the same order.
  """
  images = np.asarray(images)
  if images.ndim != 4:
    raise ValueError(
        f"images must have shape [N, H, W, K], got shape {images.shape}.")
  if not np.issubdtype(images.dtype, np.floating):
    raise ValueError(
        f"images must be a floating-point array (normalised), got dtype "
        f"{images.dtype}.")
  num_images, height, width, channels = images.shape
  if (not _is_int(kernel_size) or kernel_size < 1 or
      kernel_size > min(height, width)):
    raise ValueError(
        f"kernel_size must be an int in [1, min(H, W)] = [1, "
        f"{min(height, width)}], got {kernel_size!r}.")
  dim = kernel_size * kernel_size * channels
  if not _is_int(out_channels) or out_channels < 2 or out_channels % 2:
    raise ValueError(
        f"out_channels must be a positive even int (filters come in +/- "
        f"pairs), got {out_channels!r}.")
  if out_channels // 2 > dim:
    raise ValueError(
        f"out_channels // 2 = {out_channels // 2} exceeds the patch "
        f"dimension kernel_size**2 * K = {dim}; use out_channels <= "
        f"{2 * dim}.")
  if not float(eps) > 0.0:
    raise ValueError(f"eps must be > 0, got {eps!r}.")
  if not _is_int(max_patches) or max_patches < 2:
    raise ValueError(f"max_patches must be an int >= 2, got {max_patches!r}.")
  rows, cols = height - kernel_size + 1, width - kernel_size + 1
  if num_images * rows * cols < 2:
    raise ValueError(
        f"images must give at least 2 patches of kernel_size {kernel_size}, "
        f"got shape {images.shape}.")

  # [N, rows, cols, K, kh, kw] view (no copy) -> [N, rows, cols, kh, kw, K].
  windows = np.lib.stride_tricks.sliding_window_view(
      images, (kernel_size, kernel_size), axis=(1, 2))
  windows = windows.transpose(0, 1, 2, 4, 5, 3)
  flat = _patch_positions(num_images, rows, cols, max_patches=max_patches,
                          seed=seed)
  n, r, c = np.unravel_index(flat, (num_images, rows, cols))
  patches = windows[n, r, c].reshape(len(flat), dim).astype(np.float64)

  centred = patches - patches.mean(axis=0)
  covariance = centred.T @ centred / len(flat)
  eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # Ascending.
  top = out_channels // 2
  eigenvalues = np.maximum(eigenvalues[::-1][:top], 0.0)
  eigenvectors = eigenvectors[:, ::-1][:, :top]
  filters = eigenvectors / np.sqrt(eigenvalues + float(eps))
  kernel = np.concatenate([filters, -filters], axis=1)
  return kernel.reshape(kernel_size, kernel_size, channels,
                        out_channels).astype(np.float32)


# --------------------------------------------------------------------------
# Alternating flips.
# --------------------------------------------------------------------------


WHITEN_IMAGES = 5_000  # training images sampled for `model.whiten_init`


def whitened_params(model_params, train, *, mean, std, seed: int,
                    model_name: str):
  """`model_params` with the first convolution a whitening filter bank.

  Computed on the host from up to `WHITEN_IMAGES` images of the split
  `train` (a seeded sample), normalised by `mean` / `std` as the model sees
  them; called once, while `init` is traced (the kernel's shape is static
  there). With more channels than twice the patch dimension, the first 2 x
  dimension are whitening filters and the rest keep their initialisation.
  """
  if "conv1" not in model_params or "kernel" not in model_params["conv1"]:
    raise ValueError(
        f"model.whiten_init: model {model_name!r} has no first convolution "
        f"named conv1; set model.whiten_init=False.")
  shape = model_params["conv1"]["kernel"].shape
  rng = np.random.default_rng(seed)
  count = min(len(train), WHITEN_IMAGES)
  rows = np.sort(rng.choice(len(train), count, replace=False))
  images, _ = train.get_batch(rows)
  images = ((np.asarray(images, np.float32) / 255.0
             - np.asarray(mean, np.float32)) / np.asarray(std, np.float32))
  # As many +/- filter pairs as the patch dimension allows (a 3 x 3 grey
  # patch has 9 directions; MNIST's CNN has 32 channels); the remaining
  # channels keep their initialisation.
  pairs = min(shape[-1] // 2, shape[0] * shape[1] * shape[2])
  kernel = whitening_kernel(images, kernel_size=shape[0],
                            out_channels=2 * pairs, seed=seed)
  kernel = model_params["conv1"]["kernel"].at[..., :2 * pairs].set(
      jnp.asarray(kernel))
  conv1 = {**model_params["conv1"], "kernel": kernel}
  return {**model_params, "conv1": conv1}


def alternating_flip(indices: jax.Array, epoch: jax.Array | int, *,
                     seed: int) -> jax.Array:
  """Returns which examples to mirror this epoch (airbench's alternating flip).

  Example i carries a fixed pseudo-random bit

    b_i = bernoulli(0.5; fold_in(key(seed), i)),

  (`jax.random.bernoulli` of the key folded with the example's dataset index,
  so it does not depend on the batch or the order), and is flipped in epoch e
  iff

    b_i XOR (e mod 2 == 1).

  So over any two consecutive epochs every example is seen once mirrored and
  once not, instead of a fresh coin per epoch. Source: airbench94's
  `CifarLoader` (github.com/KellerJordan/cifar10-airbench), which pre-flips a
  random half of the data set once (`batch_flip_lr`) and flips all images
  every odd epoch ("This increases diversity relative to random flipping").

  Args:
    indices: int [B], dataset indices of the batch's examples.
    epoch: int scalar, may be traced (one compiled step for all epochs).
    seed: Python int, the seed of the per-example bits.

  Returns:
    bool [B], True where the example is to be mirrored left-right.
  """
  if not _is_int(seed):
    raise ValueError(f"seed must be a Python int, got {seed!r}.")
  indices = jnp.asarray(indices)
  if indices.ndim != 1 or not jnp.issubdtype(indices.dtype, jnp.integer):
    raise ValueError(
        f"indices must be an int array of shape [B], got dtype "
        f"{indices.dtype} and shape {indices.shape}.")
  epoch = jnp.asarray(epoch)
  if epoch.ndim != 0 or not jnp.issubdtype(epoch.dtype, jnp.integer):
    raise ValueError(
        f"epoch must be an int scalar, got dtype {epoch.dtype} and shape "
        f"{epoch.shape}.")
  base = jax.random.key(seed)
  bits = jax.vmap(
      lambda i: jax.random.bernoulli(jax.random.fold_in(base, i)))(indices)
  odd = (epoch % 2) == 1
  return jnp.logical_xor(bits, odd)


# --------------------------------------------------------------------------
# Learning-rate helpers.
# --------------------------------------------------------------------------


def _annealing_cos(start, end, pct):
  """PyTorch's `OneCycleLR._annealing_cos`: cosine from start (0) to end (1)."""
  return end + (start - end) / 2.0 * (jnp.cos(jnp.pi * pct) + 1.0)


def one_cycle_schedule(peak_lr: float, *, total_steps: int, warmup_steps: int,
                       div_factor: float = 25.0,
                       final_div_factor: float = 1e4) -> optax.Schedule:
  """Returns PyTorch's `OneCycleLR` (cosine, two phases) as an optax schedule.

  With init = peak / div_factor, final = init / final_div_factor,
  e1 = warmup_steps - 1, e2 = total_steps - 1 and
  cos_anneal(a, b, p) = b + (a - b) / 2 * (cos(pi * p) + 1):

    lr(t) = cos_anneal(init, peak, t / e1)                for t <= e1,
            cos_anneal(peak, final, (t - e1) / (e2 - e1)) for t > e1,

  constant at `final` after e2 (PyTorch raises there instead). This is
  `torch.optim.lr_scheduler.OneCycleLR(max_lr=peak, total_steps=...,
  pct_start=warmup_steps / total_steps, anneal_strategy="cos",
  three_phase=False, div_factor=..., final_div_factor=...)`, step t being
  the t-th `scheduler.step()` (t = 0 before the first), as used by
  hlb-CIFAR10. `optax.cosine_onecycle_schedule` is not used because it
  reaches the peak at step `warmup_steps` and the end at `total_steps`, one
  step later than PyTorch (whose phases end at warmup_steps - 1 and
  total_steps - 1).

  Args:
    peak_lr: the maximum learning rate, > 0.
    total_steps: number of optimizer steps, > warmup_steps.
    warmup_steps: steps of the rising phase, >= 2 (PyTorch divides by
      warmup_steps - 1).
    div_factor: init = peak_lr / div_factor, > 0.
    final_div_factor: final = init / final_div_factor, > 0.

  Returns:
    step (int, may be traced) -> float32 learning rate.

  References:
    Smith & Topin, Super-Convergence (1708.07120).
  """
  peak = _positive_float(peak_lr, "peak_lr")
  div = _positive_float(div_factor, "div_factor")
  final_div = _positive_float(final_div_factor, "final_div_factor")
  if not _is_int(warmup_steps) or warmup_steps < 2:
    raise ValueError(f"warmup_steps must be an int >= 2, got {warmup_steps!r}.")
  if not _is_int(total_steps) or total_steps <= warmup_steps:
    raise ValueError(
        f"total_steps must be an int > warmup_steps = {warmup_steps}, got "
        f"{total_steps!r}.")
  init = peak / div
  final = init / final_div
  end_up = float(warmup_steps - 1)
  end_down = float(total_steps - 1)

  def schedule(step):
    t = jnp.asarray(step, jnp.float32)
    up = _annealing_cos(init, peak, jnp.clip(t / end_up, 0.0, 1.0))
    down = _annealing_cos(
        peak, final, jnp.clip((t - end_up) / (end_down - end_up), 0.0, 1.0))
    return jnp.where(t <= end_up, up, down).astype(jnp.float32)

  return schedule


def linear_decay_schedule(peak_lr: float, *, total_steps: int,
                          warmup_steps: int,
                          final_lr: float = 0.0) -> optax.Schedule:
  """Returns a triangular schedule: linear warm-up, then linear decay.

    lr(t) = peak * t / warmup_steps                         for t < warmup,
            peak + (final - peak) * (t - warmup) / (total - warmup)
                                                   for warmup <= t < total,
            final                                           for t >= total.

  With warmup_steps = 0 it starts at the peak. This is the piecewise-linear
  `triangle` schedule of airbench94 (github.com/KellerJordan/cifar10-airbench,
  there with a non-zero start) and hlb-CIFAR10's `np.interp` schedule.

  Args:
    peak_lr: the maximum learning rate, > 0.
    total_steps: step at which `final_lr` is reached, > warmup_steps.
    warmup_steps: >= 0, step at which `peak_lr` is reached.
    final_lr: >= 0, the value from `total_steps` on.

  Returns:
    step (int, may be traced) -> float32 learning rate.
  """
  peak = _positive_float(peak_lr, "peak_lr")
  final = _python_float(final_lr, "final_lr")
  if final < 0.0:
    raise ValueError(f"final_lr must be >= 0, got {final_lr!r}.")
  if not _is_int(warmup_steps) or warmup_steps < 0:
    raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}.")
  if not _is_int(total_steps) or total_steps <= warmup_steps:
    raise ValueError(
        f"total_steps must be an int > warmup_steps = {warmup_steps}, got "
        f"{total_steps!r}.")
  warmup = float(warmup_steps)
  decay = float(total_steps - warmup_steps)

  def schedule(step):
    t = jnp.asarray(step, jnp.float32)
    rising = peak * t / max(warmup, 1.0)
    falling = peak + (final - peak) * jnp.clip((t - warmup) / decay, 0.0, 1.0)
    return jnp.where(t < warmup, rising, falling).astype(jnp.float32)

  return schedule


def scaled_learning_rate(lr: float, *, batch_size: int, base_batch_size: int,
                         rule: str) -> float:
  """Returns `lr` tuned at `base_batch_size` rescaled to `batch_size`.

    "none":   lr
    "linear": lr * B / B0           (Goyal et al., 1706.02677)
    "sqrt":   lr * sqrt(B / B0)     (Krizhevsky, 1404.5997; Hoffer et al.,
                                     1705.08741)

  Args:
    lr: the learning rate at the base batch size.
    batch_size: B > 0, the batch size used.
    base_batch_size: B0 > 0, the batch size `lr` was tuned for.
    rule: "none", "linear" or "sqrt".

  Returns:
    The scaled learning rate, a Python float.
  """
  if rule not in LR_SCALING_RULES:
    raise ValueError(
        f"rule must be one of {LR_SCALING_RULES}, got {rule!r}.")
  if not _is_int(batch_size) or batch_size <= 0:
    raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
  if not _is_int(base_batch_size) or base_batch_size <= 0:
    raise ValueError(
        f"base_batch_size must be a positive int, got {base_batch_size!r}.")
  lr = _python_float(lr, "lr")
  ratio = batch_size / base_batch_size
  if rule == "linear":
    return lr * ratio
  if rule == "sqrt":
    return lr * math.sqrt(ratio)
  return lr


# --------------------------------------------------------------------------
# Argument checks.
# --------------------------------------------------------------------------


def _is_int(x) -> bool:
  """Whether `x` is a Python or NumPy integer (not a bool)."""
  return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _python_float(x, name: str) -> float:
  """`x` as a finite Python float, or a ValueError naming `name`."""
  try:
    value = float(x)
  except (TypeError, jax.errors.ConcretizationTypeError,
          jax.errors.TracerArrayConversionError) as e:
    raise ValueError(
        f"{name} must be a Python number known at trace time, got {x!r}."
    ) from e
  if not math.isfinite(value):
    raise ValueError(f"{name} must be finite, got {x!r}.")
  return value


def _positive_float(x, name: str) -> float:
  """`x` as a Python float > 0, or a ValueError naming `name`."""
  value = _python_float(x, name)
  if value <= 0.0:
    raise ValueError(f"{name} must be > 0, got {x!r}.")
  return value
