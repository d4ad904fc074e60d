"""Checkpoints of the whole TrainState with orbax, with a safe resume.

A job started on a workdir that has a checkpoint resumes from it. If the
newest checkpoint cannot be read (a job killed mid-write on a file system
without atomic renames, a truncated or corrupt file), it is moved aside to
`<step>.unreadable` and the previous one is tried, with a warning that names
the broken step. Moving it aside lets the resumed run save that step again.
A set-aside checkpoint is never deleted: orbax only counts (and rotates out)
directories named by a bare step number.

A checkpoint that reads fine but holds another tree (other parameter names,
shapes or dtypes: a different model, class count or method) is not broken:
`CheckpointMismatchError` is raised, naming the first differences, and
nothing is moved.

No checkpoint with a non-finite value is written: `maybe_save` checks the
state first (one compiled reduction) and raises `DivergenceError`.

`read_checkpoint(workdir, like)` opens another run's checkpoints read-only
(decoupling, a frozen RRT encoder, `load_model`): the newest readable one is
restored and nothing in the folder is moved or written.

Content check: orbax reads a checkpoint whose array bytes were changed after
the save (a disk or copy fault) without complaint. At each save a SHA-256
digest of the state's leaves (names, dtypes, shapes and bytes) is saved with
it (orbax's custom metadata of the step); a restored checkpoint whose digest
differs is treated as unreadable (set aside, the previous one tried). A
checkpoint
written before digests existed, or a state sharded over several processes
(not digested), is restored with a log line saying it was not checked.
"""

import hashlib
import json
import os
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from ltjax.train import _report


class CheckpointMismatchError(ValueError):
  """A readable checkpoint whose tree does not fit this run's state.

  Attributes:
    saved_shapes: the checkpoint's pytree of array shapes (nested dicts of
      tuples), for callers that explain the difference in their own terms.
    step: the step of that checkpoint.
  """

  def __init__(self, message: str, *, saved_shapes=None,
               step: int | None = None):
    super().__init__(message)
    self.saved_shapes = saved_shapes
    self.step = step


class DivergenceError(FloatingPointError):
  """Training produced a non-finite loss, gradient norm or state."""


@jax.jit
def _all_finite(tree) -> jax.Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def all_finite(tree) -> bool:
  """Whether every floating-point value of `tree` is finite."""
  return bool(_all_finite(tree))


def non_finite_leaves(tree, limit: int = 3) -> list[str]:
  """Paths of (up to `limit`) floating-point leaves with a NaN or inf."""
  found = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    value = np.asarray(jax.device_get(leaf))
    if np.issubdtype(value.dtype, np.inexact) and not np.all(
        np.isfinite(value)):
      found.append(jax.tree_util.keystr(path))
      if len(found) == limit:
        break
  return found


def _path_name(path) -> str:
  """A tree path as "a/b/0", the same for a dataclass, dict or tuple."""
  parts = []
  for key in path:
    for attribute in ("key", "name", "idx"):
      if hasattr(key, attribute):
        parts.append(str(getattr(key, attribute)))
        break
    else:
      parts.append(str(key))
  return "/".join(parts)


def _leaf_specs(tree) -> dict[str, tuple]:
  """{path: (shape, dtype)} of a tree of arrays or array metadata."""
  flat = jax.tree_util.tree_flatten_with_path(
      tree, is_leaf=lambda x: hasattr(x, "shape") and hasattr(x, "dtype"))[0]
  return {_path_name(path): (tuple(leaf.shape), np.dtype(leaf.dtype).name)
          for path, leaf in flat if hasattr(leaf, "shape")}


def tree_differences(saved, expected, limit: int = 5) -> list[str]:
  """How a saved tree's leaves differ from `expected`'s (first `limit`)."""
  a, b = _leaf_specs(saved), _leaf_specs(expected)
  lines = [f"{k}: only in the checkpoint" for k in sorted(set(a) - set(b))]
  lines += [f"{k}: missing from the checkpoint"
            for k in sorted(set(b) - set(a))]
  lines += [f"{k}: checkpoint {a[k][0]} {a[k][1]}, this run {b[k][0]} "
            f"{b[k][1]}" for k in sorted(set(a) & set(b)) if a[k] != b[k]]
  return lines[:limit]


DIGEST_KEY = "ltjax_state_sha256"


def _leaf_bytes(leaf) -> np.ndarray | None:
  """A leaf's value on this host, or None if no process holds it whole."""
  if isinstance(leaf, jax.Array):
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      leaf = jax.random.key_data(leaf)
    if not leaf.is_fully_addressable:
      if not leaf.sharding.is_fully_replicated:
        return None
      leaf = leaf.addressable_data(0)
  return np.ascontiguousarray(np.asarray(leaf))


def state_digest(tree) -> str | None:
  """SHA-256 of a state's leaves (path names, dtypes, shapes, bytes).

  The same for the state saved and the tree restored from it, whether
  restored into the state's structure or as nested dicts (leaves are keyed
  by their path names, in sorted order). None when a leaf is sharded over
  several processes (no process could digest it alone).
  """
  flat = jax.tree_util.tree_flatten_with_path(tree)[0]
  leaves = {}
  for path, leaf in flat:
    value = _leaf_bytes(leaf)
    if value is None:
      return None
    leaf_hash = hashlib.sha256(
        f"{np.dtype(value.dtype).name}{value.shape}".encode())
    leaf_hash.update(value.tobytes())
    leaves[_path_name(path)] = leaf_hash.hexdigest()
  whole = hashlib.sha256()
  for name in sorted(leaves):
    whole.update(f"{name}={leaves[name]};".encode())
  return whole.hexdigest()


def _recorded_digest(manager: ocp.CheckpointManager, step: int) -> str | None:
  """The digest saved with `step` (orbax's custom metadata), if any."""
  try:
    custom = manager.metadata(step).custom_metadata or {}
  except Exception:  # pylint: disable=broad-except
    return None  # no step metadata: an old or foreign checkpoint
  return custom.get(DIGEST_KEY)


def _shapes(metadata):
  """The pytree of array shapes of a checkpoint's metadata tree."""
  return jax.tree.map(lambda m: tuple(m.shape), dict(metadata),
                      is_leaf=lambda m: hasattr(m, "shape"))


def _as_saved_on_one_device(metadata):
  """Abstract arrays of a metadata tree, placed on this process's device 0.

  The saved sharding names the devices of the saving job; restoring onto one
  local device works on any topology.
  """
  sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  return jax.tree.map(
      lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=sharding),
      dict(metadata), is_leaf=lambda m: hasattr(m, "shape"))


def _restore_newest(manager: ocp.CheckpointManager, like, on_unreadable):
  """(tree, step) of the newest readable checkpoint, or (None, None).

  Args:
    manager: the checkpoint manager.
    like: a state (or its `jax.ShapeDtypeStruct`s, with shardings) giving
      the structure, dtypes and placement; None restores the saved tree (as
      nested dicts) onto this process's first device.
    on_unreadable: `f(step, error)`, called for a checkpoint whose metadata
      or arrays cannot be read, before the previous one is tried.

  Raises:
    CheckpointMismatchError: the newest readable checkpoint holds a tree
      other than `like`'s.
  """
  abstract = (None if like is None else
              jax.tree.map(ocp.utils.to_shape_dtype_struct, like))
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      saved = manager.item_metadata(step)
      saved = getattr(saved, "tree", saved)
      if saved is None:
        raise ValueError("no metadata")
    except Exception as error:  # pylint: disable=broad-except
      on_unreadable(step, error)
      continue
    target = abstract
    if target is None:
      target = _as_saved_on_one_device(saved)
    else:
      differences = tree_differences(saved, target)
      if differences:
        raise CheckpointMismatchError(
            f"the checkpoint at step {step} in {manager.directory} does not "
            f"fit this run's state (a different model, class count or "
            f"method?): {'; '.join(differences)}. Use a new workdir or "
            f"--overwrite (train_and_evaluate(..., overwrite=True)).",
            saved_shapes=_shapes(saved), step=step)
    try:
      tree = manager.restore(step, args=ocp.args.StandardRestore(target))
    except Exception as error:  # pylint: disable=broad-except
      on_unreadable(step, error)
      continue
    expected = _recorded_digest(manager, step)
    found = state_digest(tree) if expected else None
    if expected and found and found != expected:
      on_unreadable(step, ValueError(
          "its content differs from what was saved (SHA-256 of the arrays "
          f"{found[:12]}..., recorded at the save {expected[:12]}...): a "
          "disk or copy fault changed its bytes"))
      continue
    if not expected or not found:
      logging.info("Checkpoint at step %d in %s restored without a content "
                   "check (%s).", step, manager.directory,
                   "no digest was recorded at its save" if not expected
                   else "its state is sharded over processes")
    return tree, step
  return None, None


class Checkpointer:
  """Saves every `every_steps` steps (and when forced), keeps `keep`.

  The cadence is orbax's own save-decision policy (a `FixedIntervalPolicy`:
  steps that are multiples of `every_steps`, step 0 included) and the
  rotation its `max_to_keep`.
  """

  def __init__(self, directory: str, *, every_steps: int, keep: int):
    if every_steps < 1 or keep < 1:
      raise ValueError(
          f"checkpoint_every_steps and keep_checkpoints must be >= 1, got "
          f"{every_steps} and {keep}.")
    # orbax needs an absolute path; a relative workdir is common on the
    # command line.
    self._manager = ocp.CheckpointManager(
        os.path.abspath(directory),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True,
            save_decision_policy=ocp.checkpoint_managers.FixedIntervalPolicy(
                every_steps)),
        item_handlers=ocp.StandardCheckpointHandler())

  def maybe_save(self, step: int, state, *, force: bool = False) -> bool:
    """Saves (asynchronously) if `step` is due or `force`; returns whether."""
    if step in self._manager.all_steps():
      return False
    if not force and not self._manager.should_save(step):
      return False
    if not all_finite(state):
      raise DivergenceError(
          f"the state at step {step} has non-finite values "
          f"({', '.join(non_finite_leaves(state))}); it was not saved, so "
          f"the checkpoints in {self._manager.directory} (newest: step "
          f"{self._manager.latest_step()}) are kept. Lower config.optim.lr.")
    # Due by the policy (checked above) or forced.
    digest = state_digest(state)
    return self._manager.save(
        step, args=ocp.args.StandardSave(state), force=True,
        custom_metadata={} if digest is None else {DIGEST_KEY: digest})

  def restore_latest(self, target):
    """Restores the newest readable checkpoint into `target`'s structure.

    An unreadable newer checkpoint is moved aside to `<step>.unreadable`.

    Args:
      target: a state (or its `jax.ShapeDtypeStruct`s, with shardings) giving
        the structure, dtypes and placement to restore into.

    Returns:
      (state, step), or (None, None) when there is no readable checkpoint.

    Raises:
      CheckpointMismatchError: the newest readable checkpoint holds a tree
        other than `target`'s (nothing is moved aside).
    """
    return _restore_newest(self._manager, target, self._set_aside)

  def _set_aside(self, step: int, error: Exception) -> None:
    """Moves an unreadable checkpoint to `<step>.unreadable` (kept)."""
    directory = str(self._manager.directory)
    aside = _unused_path(os.path.join(directory, f"{step}.unreadable"))
    logging.warning(
        "Checkpoint at step %d in %s could not be read (%s: %s); moving it "
        "to %s (kept, never deleted) and falling back to the previous "
        "checkpoint.", step, directory, type(error).__name__,
        str(error)[:500], aside)
    if jax.process_index() == 0:
      os.rename(os.path.join(directory, str(step)), aside)
    self._manager.reload()

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def saved_shapes(self, step: int):
    """The pytree of array shapes saved at `step` (no array is read)."""
    metadata = self._manager.item_metadata(step)
    return _shapes(getattr(metadata, "tree", metadata))

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def read_checkpoint(workdir: str, like=None) -> tuple[Any, int]:
  """Restores the newest readable checkpoint of a run, read-only.

  For reading another run's checkpoints (decoupling, a frozen RRT encoder,
  `load_model`): nothing in the folder is moved, written or deleted. A
  newest checkpoint that cannot be read is skipped with a warning naming
  its step, and the previous one is tried.

  Example:
    state, step = ltjax.train.read_checkpoint("/tmp/ltjax/ce",
                                              run.init_state())

  Args:
    workdir: the run's workdir (its checkpoints are in `checkpoints/`).
    like: a state (or its `jax.ShapeDtypeStruct`s, with shardings) giving
      the structure, dtypes and placement to restore into; None (default)
      restores the tree as saved, as nested dicts on this process's first
      device, whatever device count the saving job had.

  Returns:
    (state, step): the restored tree and its step.

  Raises:
    FileNotFoundError: the workdir has no checkpoint.
    ValueError: it has checkpoints but none can be read.
    CheckpointMismatchError: the newest readable checkpoint holds a tree
      other than `like`'s (its `saved_shapes` tell how).
  """
  directory = os.path.join(os.path.abspath(workdir), "checkpoints")
  if not os.path.isdir(directory):
    raise FileNotFoundError(
        f"no checkpoint in {directory} (no such folder): {workdir} must be "
        f"the workdir of a trained run (python -m experiments.main "
        f"--config=... --workdir={workdir}).")
  _report.drop_library_noise()  # orbax warns about read-only managers
  manager = ocp.CheckpointManager(
      directory, options=ocp.CheckpointManagerOptions(read_only=True),
      item_handlers=ocp.StandardCheckpointHandler())
  unreadable = []

  def skip(step, error):
    unreadable.append(step)
    logging.warning(
        "Checkpoint at step %d in %s cannot be read (%s: %s); trying the "
        "previous one (left in place).", step, directory,
        type(error).__name__, str(error)[:300])

  try:
    tree, step = _restore_newest(manager, like, skip)
  finally:
    manager.close()
  if step is None and not unreadable:
    raise FileNotFoundError(
        f"no checkpoint in {directory}: {workdir} must be the workdir of a "
        f"trained run (python -m experiments.main --config=... "
        f"--workdir={workdir}).")
  if step is None:
    raise ValueError(f"no readable checkpoint in {directory}: steps "
                     f"{sorted(unreadable)} cannot be read.")
  return tree, step


def _unused_path(path: str) -> str:
  candidate, n = path, 1
  while os.path.exists(candidate):
    candidate, n = f"{path}{n}", n + 1
  return candidate
