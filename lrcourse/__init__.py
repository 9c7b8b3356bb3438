"""lrcourse: the learning rate and adaptive learning-rate methods, from first principles.

The supporting library of the course notebooks:

- ``lrcourse.optim``: SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, Adamax, NAdam, RAdam in numpy;
- ``lrcourse.torch_optim``: the same nine as ``torch.optim.Optimizer`` subclasses, and the
  learning-rate-free methods of ``lrcourse.lr_free`` (D-Adaptation, Prodigy) and
  ``lrcourse.schedule_free`` (schedule-free SGD and AdamW), each equal to its reference package;
- ``lrcourse.schedules``: learning-rate schedules as functions of the step;
- ``lrcourse.functions``: the test surfaces, with gradients and known minima, and least squares on
  real data with minibatch gradients;
- ``lrcourse.runs`` / ``lrcourse.theory``: runs with divergence detection, vectorized sweeps, and the
  closed forms the notebooks confirm;
- ``lrcourse.range_test``: the learning-rate range test (the numbers of torch-lr-finder) and the rules
  that read an lr off its curve;
- ``lrcourse.nets``: small networks on the data sets scikit-learn ships, and many of them trained at once
  (one lr per copy) for lr sweeps over seeds; ``lrcourse.training``: chapter 12's training loops;
- ``lrcourse.widgets``: the sliders of the notebooks;
- ``lrcourse.grading`` / ``lrcourse.grade`` / ``lrcourse.exercises``: the exercise checks, the batch
  grader and the generator of exercises from solutions;
- ``get_device()`` / ``describe_device()``: CUDA when present, else the CPU.

Importing ``lrcourse`` (or its numpy modules) does not import torch.
"""

from lrcourse.device import describe_device, get_device

__version__ = "0.1.0"
__all__ = ["get_device", "describe_device", "__version__"]
