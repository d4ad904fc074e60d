"""Checkpoints of the whole TrainState with orbax, with a safe resume.

A job started on a workdir that has a checkpoint resumes from it. If the
newest checkpoint cannot be restored (a job killed mid-write on a file system
without atomic renames, a truncated file), it is moved aside to
`<step>.unreadable` (kept for inspection, not deleted) and the previous one is
tried, with a warning that names the broken step. Moving it aside lets the
resumed run save that step again.
"""

import os

from absl import logging
import jax
import orbax.checkpoint as ocp


class Checkpointer:
  """Saves every `every_steps` steps (and when forced), keeps `keep`."""

  def __init__(self, directory: str, *, every_steps: int, keep: int):
    if every_steps < 1 or keep < 1:
      raise ValueError(
          f"checkpoint_every_steps and keep_checkpoints must be >= 1, got "
          f"{every_steps} and {keep}.")
    self._every = every_steps
    # orbax needs an absolute path; a relative workdir is common on the
    # command line.
    self._manager = ocp.CheckpointManager(
        os.path.abspath(directory),
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True),
        item_handlers=ocp.StandardCheckpointHandler())

  def maybe_save(self, step: int, state, *, force: bool = False) -> bool:
    """Saves (asynchronously) if `step` is due or `force`; returns whether."""
    if not force and step % self._every:
      return False
    if step in self._manager.all_steps():
      return False
    return self._manager.save(step, args=ocp.args.StandardSave(state),
                              force=True)

  def restore_latest(self, target):
    """Restores the newest readable checkpoint into `target`'s structure.

    Args:
      target: a state (or its `jax.ShapeDtypeStruct`s, with shardings) giving
        the structure, dtypes and placement to restore into.

    Returns:
      (state, step), or (None, None) when there is no readable checkpoint.
    """
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        state = self._manager.restore(
            step, args=ocp.args.StandardRestore(abstract))
      except Exception as error:  # pylint: disable=broad-except
        aside = _unused_path(
            os.path.join(str(self._manager.directory), f"{step}.unreadable"))
        logging.warning(
            "Checkpoint at step %d in %s could not be restored (%s: %s); "
            "moving it to %s and falling back to the previous checkpoint.",
            step, self._manager.directory, type(error).__name__,
            str(error)[:500], aside)
        if jax.process_index() == 0:
          os.rename(os.path.join(str(self._manager.directory), str(step)),
                    aside)
        self._manager.reload()
        continue
      return state, step
    return None, None

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def saved_shapes(self, step: int):
    """The pytree of array shapes saved at `step` (no array is read)."""
    metadata = self._manager.item_metadata(step)
    tree = getattr(metadata, "tree", metadata)
    return jax.tree.map(lambda m: tuple(m.shape), dict(tree),
                        is_leaf=lambda m: hasattr(m, "shape"))

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def _unused_path(path: str) -> str:
  candidate, n = path, 1
  while os.path.exists(candidate):
    candidate, n = f"{path}{n}", n + 1
  return candidate
