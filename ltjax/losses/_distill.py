"""Knowledge distillation losses: Hinton's KD and DiVE's flattened teacher.

Glossary: B batch, C classes. Both losses return the per-example value [B];
reduce with `jnp.mean` for the originals' `kl_div(reduction='batchmean')`
(the sum over the batch divided by B). The teacher never gets a gradient.
"""

import jax
import jax.numpy as jnp

from ltjax import _validation as v
from ltjax.losses import _classification


def _check_pair(student_logits, teacher_logits):
  student = v.check_logits(student_logits, "student_logits")
  teacher = v.check_logits(teacher_logits, "teacher_logits")
  v.check_same_shape(teacher, student, "teacher_logits", "student_logits",
                     " Pass the teacher's logits for the same examples and "
                     "classes.")
  dtype = v.float_dtype(student, teacher)
  return student.astype(dtype), teacher.astype(dtype)


def distillation_loss(student_logits: jax.typing.ArrayLike,
                      teacher_logits: jax.typing.ArrayLike, *,
                      temperature: float,
                      teacher_power: float = 1.0) -> jax.Array:
  r"""Computes the (power-flattened) knowledge-distillation loss per example.

  .. math::
    q = \frac{\mathrm{softmax}(t / T)^p}{\sum_c \mathrm{softmax}(t / T)_c^p},
    \qquad
    \ell_i = T^2 \, \mathrm{KL}\big(q_i \,\|\, \mathrm{softmax}(s_i / T)\big)
    = T^2 \sum_c q_{ic} \big(\log q_{ic} - \log \mathrm{softmax}(s_i/T)_c\big)

  p = 1 is Hinton et al.'s KD. DiVE flattens the teacher's virtual-example
  distribution with p < 1 (Bag-of-Tricks `DiVEKLD`:
  `soft_t = softmax(t / T) ** power; soft_t /= soft_t.sum(1)`); ltjax takes
  the same q in log space, `log_softmax(p * log_softmax(t / T))`, which is
  equal and cannot underflow to 0 ** p. The teacher logits are wrapped in
  `stop_gradient`. Reduce with `jnp.mean` for the original's `batchmean`.

  Args:
    student_logits: float [B, C].
    teacher_logits: float [B, C], the same examples seen by the teacher.
    temperature: T > 0.
    teacher_power: p > 0; 1 leaves the teacher's distribution as it is.

  Returns:
    float [B] per-example loss (0 where the student equals the teacher and
    p = 1).

  References:
    Hinton et al., Distilling the Knowledge in a Neural Network
    (arXiv 1503.02531); He et al., Distilling Virtual Examples for
    Long-tailed Recognition, ICCV 2021 (arXiv 2103.15042).
  """
  v.check_scalar(temperature, "temperature", minimum=0.0)
  v.check_scalar(teacher_power, "teacher_power", minimum=0.0)
  if v.concrete(temperature) is not None and float(temperature) == 0.0:
    raise ValueError("temperature must be > 0, got 0.")
  if v.concrete(teacher_power) is not None and float(teacher_power) == 0.0:
    raise ValueError("teacher_power must be > 0 (0 makes the teacher uniform "
                     "regardless of its logits), got 0.")
  student, teacher = _check_pair(student_logits, teacher_logits)
  dtype = student.dtype
  t = jnp.asarray(temperature, dtype)
  teacher = jax.lax.stop_gradient(teacher)
  log_q = jax.nn.log_softmax(
      jnp.asarray(teacher_power, dtype)
      * jax.nn.log_softmax(teacher / t, axis=-1), axis=-1)
  log_s = jax.nn.log_softmax(student / t, axis=-1)
  kl = jnp.sum(jnp.exp(log_q) * (log_q - log_s), axis=-1)
  return t * t * kl


def dive_loss(student_logits: jax.typing.ArrayLike,
              teacher_logits: jax.typing.ArrayLike,
              labels: jax.typing.ArrayLike, *,
              class_counts: jax.typing.ArrayLike,
              temperature: float = 2.0, teacher_power: float = 0.5,
              alpha: float = 0.5) -> jax.Array:
  r"""Computes DiVE's distillation + balanced-softmax loss per example.

  .. math::
    \ell_i = \alpha \, \mathrm{KD}_{T,p}(s_i, t_i)
    + (1 - \alpha) \big(-\log \mathrm{softmax}(s_i + \log n)_{y_i}\big)

  with `KD` the `distillation_loss` above (T^2 times the KL from the
  power-flattened teacher). Defaults follow Bag-of-Tricks' shipped DiVE
  student configs (`configs/cao_cifar/DiVE/*/student.yaml`: TEMPERATURE 2.0,
  POWER 0.5 with POWER_NORM on, ALPHA 0.5, BASELOSS BalancedSoftmaxCE); its
  code defaults are T = 3 and p = 1 (POWER_NORM off). The original reduces
  the KL with `batchmean` and the CE with the mean, so `jnp.mean` of this
  per-example loss is its value.

  Args:
    student_logits: float [B, C].
    teacher_logits: float [B, C], the teacher's logits for the same batch.
    labels: int [B] in [0, C).
    class_counts: [C] training examples per class, positive.
    temperature: T > 0.
    teacher_power: p > 0 (DiVE's flattening; 1 is plain KD).
    alpha: weight of the distillation term, in [0, 1].

  Returns:
    float [B] per-example loss.

  References:
    He et al., Distilling Virtual Examples for Long-tailed Recognition,
    ICCV 2021 (arXiv 2103.15042); Ren et al. (arXiv 2007.10740) for the
    balanced softmax.
  """
  v.check_scalar(alpha, "alpha", minimum=0.0)
  if v.concrete(alpha) is not None and float(alpha) > 1.0:
    raise ValueError(f"alpha must lie in [0, 1], got {float(alpha)}.")
  kd = distillation_loss(student_logits, teacher_logits,
                         temperature=temperature,
                         teacher_power=teacher_power)
  ce = _classification.balanced_softmax_loss(student_logits, labels,
                                             class_counts=class_counts)
  a = jnp.asarray(alpha, kd.dtype)
  return a * kd + (1 - a) * ce.astype(kd.dtype)
