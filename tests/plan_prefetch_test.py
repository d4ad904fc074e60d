"""The next epoch's plan is computed while the current epoch trains."""

import threading

from absl.testing import absltest
import numpy as np

from ltjax import sampling
from ltjax.train import _driver


class PrefetchedTest(absltest.TestCase):

  def test_same_plans_and_the_next_one_is_started_early(self):
    labels = np.repeat(np.arange(5), [50, 20, 10, 5, 2])
    calls, started = [], threading.Event()

    def plan(epoch):
      calls.append(epoch)
      if epoch == 1:
        started.set()
      return sampling.epoch_plan(labels, seed=3, epoch=epoch,
                                 class_probabilities=np.full(5, 0.2))

    get = _driver.prefetched(plan, num_epochs=3)
    for epoch in range(3):
      np.testing.assert_array_equal(
          get(epoch), sampling.epoch_plan(labels, seed=3, epoch=epoch,
                                          class_probabilities=np.full(5, 0.2)))
      if epoch == 0:
        # Epoch 1's plan starts before it is asked for.
        self.assertTrue(started.wait(10))
    self.assertEqual(calls, [0, 1, 2])  # each once; none past the last

  def test_a_resume_asks_any_epoch_first(self):
    get = _driver.prefetched(lambda e: e * 10, num_epochs=10)
    self.assertEqual(get(7), 70)
    self.assertEqual(get(8), 80)
    self.assertEqual(get(2), 20)  # a stale prefetch is dropped, not used

  def test_an_error_is_raised_when_its_epoch_is_asked(self):
    def plan(epoch):
      if epoch == 1:
        raise ValueError("bad epoch 1")
      return epoch

    get = _driver.prefetched(plan, num_epochs=3)
    self.assertEqual(get(0), 0)
    with self.assertRaisesRegex(ValueError, "bad epoch 1"):
      get(1)


if __name__ == "__main__":
  absltest.main()
