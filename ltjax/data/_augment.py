"""On-device augmentation: the host ships uint8 batches, the device augments.

All functions are jittable pure functions of (images, key); the same key gives
the same augmentation, so a resumed run that folds the step into its key
re-draws exactly the same crops and flips.

Feature vectors [B, D] (tabular data) pass through `augment` and
`normalize` too: they are standardised per feature, never cropped or flipped.

Glossary: B batch, H x W image, K channels, D features.
"""

import jax
import jax.numpy as jnp

# Per-channel statistics of the normalisation, as in the LDAM-DRW repo.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The normalisation every recipe of these datasets uses (mean, std).
STANDARD_NORMALIZATION = {
    "cifar10_lt": (CIFAR_MEAN, CIFAR_STD),
    "cifar100_lt": (CIFAR_MEAN, CIFAR_STD),
    "mnist_lt": (MNIST_MEAN, MNIST_STD),
    "imagenet_lt": (IMAGENET_MEAN, IMAGENET_STD),
    "places_lt": (IMAGENET_MEAN, IMAGENET_STD),
}


def _check_images(images, *, features: bool = False) -> jax.Array:
  images = jnp.asarray(images)
  if images.ndim != 4 and not (features and images.ndim == 2):
    allowed = " or feature vectors [B, D]" if features else ""
    raise ValueError(
        f"images must have shape [B, H, W, K]{allowed}, got shape "
        f"{images.shape}.")
  return images


def random_crop_flip(images: jax.typing.ArrayLike, key: jax.Array, *,
                     padding: int = 4, flip: bool = True) -> jax.Array:
  """Pads with zeros, crops back to H x W at a random offset, flips.

  The CIFAR recipe (`RandomCrop(32, padding=4)` + `RandomHorizontalFlip()`):
  each image gets its own offset in [0, 2 * padding] per axis and is mirrored
  left-right with probability 1/2.

  Args:
    images: [B, H, W, K], any dtype (uint8 from the host).
    key: PRNG key.
    padding: zero padding on each side, >= 0.
    flip: whether to flip horizontally at random.

  Returns:
    [B, H, W, K], same dtype as `images`.
  """
  images = _check_images(images)
  if padding < 0:
    raise ValueError(f"padding must be >= 0, got {padding}.")
  batch, height, width, channels = images.shape
  key_y, key_x, key_flip = jax.random.split(key, 3)
  if padding:
    padded = jnp.pad(images, ((0, 0), (padding, padding), (padding, padding),
                              (0, 0)))
    offset_y = jax.random.randint(key_y, (batch,), 0, 2 * padding + 1)
    offset_x = jax.random.randint(key_x, (batch,), 0, 2 * padding + 1)
    crop = lambda image, y, x: jax.lax.dynamic_slice(  # pylint: disable=g-long-lambda
        image, (y, x, 0), (height, width, channels))
    images = jax.vmap(crop)(padded, offset_y, offset_x)
  if flip:
    mirror = jax.random.bernoulli(key_flip, 0.5, (batch,))
    images = jnp.where(mirror[:, None, None, None], images[:, :, ::-1],
                       images)
  return images


def normalize(images: jax.typing.ArrayLike, *, mean, std,
              dtype=jnp.float32) -> jax.Array:
  """Maps uint8 pixels to (x / 255 - mean) / std per channel.

  Feature vectors [B, D] are mapped the same way per feature, with K = D:
  with the mean and std of x / 255, that is (x - mean(x)) / std(x).

  Args:
    images: [B, H, W, K] uint8 (or floats in [0, 255]), or float [B, K].
    mean: K per-channel means of x / 255.
    std: K per-channel standard deviations of x / 255.
    dtype: output dtype (bfloat16 for bfloat16 compute).

  Returns:
    The shape of `images`, in `dtype`.
  """
  images = _check_images(images, features=True)
  mean = jnp.asarray(mean, jnp.float32)
  std = jnp.asarray(std, jnp.float32)
  if mean.shape != (images.shape[-1],) or std.shape != mean.shape:
    raise ValueError(
        f"mean and std need one entry per channel ({images.shape[-1]}), got "
        f"{mean.shape} and {std.shape}.")
  scaled = images.astype(jnp.float32) / 255.0
  return ((scaled - mean) / std).astype(dtype)


def augment(images: jax.typing.ArrayLike, key: jax.Array | None, *, mean,
            std, padding: int = 4, flip: bool = True,
            dtype=jnp.float32) -> jax.Array:
  """Training augmentation (`key` given) or evaluation transform (None).

  With a key: `random_crop_flip` then `normalize`; without: `normalize` only.
  Feature vectors [B, D] are only normalised.
  """
  images = _check_images(images, features=True)
  if key is not None and (padding or flip) and images.ndim == 4:
    images = random_crop_flip(images, key, padding=padding, flip=flip)
  return normalize(images, mean=mean, std=std, dtype=dtype)
