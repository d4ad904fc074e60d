r"""ACE's experts one by one, on a finished run's checkpoint.

  python -m benchmarks.ace_experts --workdir=RUN --data_path=PATH

For a finished `ace` run: each expert's classes, its classifier's weight
norms, its accuracy on its own classes (argmax over them) and its mean top
logit on its own test examples; the weight-norm scales ACE re-scales with
(`ltjax.losses.ace_logit_scales`) beside the ratio of the experts' mean top
logits on the validation split; and the balanced test accuracy of expert 0
alone, the plain mean of the experts' logits, ACE's per-class mean without
and with its re-scaling, and with the logit-ratio scales instead.
"""

from absl import app
from absl import flags
import jax.numpy as jnp
import numpy as np

from ltjax import data
from ltjax import losses
from ltjax import train

_WORKDIR = flags.DEFINE_string("workdir", None, "A finished ace run.")
_DATA_PATH = flags.DEFINE_string("data_path", None, "Its data.path.")


def _logits(model, variables, split, mean, std):
  images, labels = split.get_batch(np.arange(len(split)))
  x = ((images.astype(np.float32) / 255.0 - np.asarray(mean, np.float32))
       / np.asarray(std, np.float32))
  out = [np.asarray(model.apply(variables, x[i:i + 1000], train=False)[0])
         for i in range(0, len(x), 1000)]
  return np.concatenate(out, axis=1), np.asarray(labels)


def _balanced(logits, labels, num_classes):
  pred = np.argmax(logits, -1)
  return 100 * np.mean([np.mean(pred[labels == c] == c)
                        for c in range(num_classes)])


def main(argv):
  del argv
  model, variables, config = train.load_model(_WORKDIR.value)
  config.data.path = _DATA_PATH.value
  dataset = data.load_dataset(config.data)
  mean, std = train.normalization(config, dataset)  # as the run had it
  counts = np.asarray(dataset.train_class_counts)
  z, labels = _logits(model, variables, dataset.test, mean, std)
  vz, vlabels = _logits(model, variables, dataset.val, mean, std)
  num_experts, _, num_classes = z.shape
  masks = np.asarray(losses.ace_class_masks(counts, num_experts))
  scales = np.asarray(train.ace_scales(variables["params"],
                                       jnp.asarray(masks)))

  def top(logits, lab, e):
    own = masks[e][lab]
    return float(np.mean(np.max(np.where(masks[e][None], logits[e],
                                         -np.inf)[own], -1)))

  tops = np.array([top(vz, vlabels, e) for e in range(num_experts)])
  print("| expert | classes | acc. on its classes | mean top logit | "
        "weight-norm scale | logit-ratio scale |")
  print("|---|---|---|---|---|---|")
  for e in range(num_experts):
    own = masks[e][labels]
    pred = np.argmax(np.where(masks[e][None], z[e], -np.inf), -1)
    print(f"| {e} | {np.flatnonzero(masks[e]).tolist()} | "
          f"{100 * np.mean(pred[own] == labels[own]):.1f} | "
          f"{top(z, labels, e):.2f} | {scales[e]:.2f} | "
          f"{tops[0] / tops[e]:.2f} |")

  def per_class_mean(s):
    summed = np.where(masks[:, None, :], s[:, None, None] * z, 0).sum(0)
    return summed / masks.sum(0)

  print()
  for name, logits in (
      ("expert 0 alone", z[0]), ("plain mean of the experts", z.mean(0)),
      ("per-class mean, no re-scaling", per_class_mean(np.ones(num_experts))),
      ("per-class mean, weight-norm scales (ACE)", per_class_mean(scales)),
      ("per-class mean, logit-ratio scales", per_class_mean(tops[0] / tops))):
    print(f"{name}: balanced {_balanced(logits, labels, num_classes):.2f}")


if __name__ == "__main__":
  flags.mark_flags_as_required(["workdir", "data_path"])
  app.run(main)
