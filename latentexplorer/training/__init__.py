"""Training: one loop (`Trainer`) and the function that sets a run up from its configuration."""

from latentexplorer.training.records import EpochMetrics, NonFiniteLoss, StepMetrics, TrainResult
from latentexplorer.training.run import prepare_training, train
from latentexplorer.training.trainer import Trainer, resolve_device

__all__ = [
    "EpochMetrics", "NonFiniteLoss", "StepMetrics", "TrainResult", "Trainer", "prepare_training",
    "resolve_device", "train",
]
