"""The training run as a task for the TaskRunner (see `training.live.LiveTraining`)."""

from __future__ import annotations

from latentexplorer.errors import UserError
from latentexplorer.gui.tasks import TaskContext
from latentexplorer.training.live import LiveTraining
from latentexplorer.training.records import TrainResult


def train_in_task(live: LiveTraining, task: TaskContext) -> TrainResult:
    """Runs in the training task's thread: records go to the tab through the task."""
    from latentexplorer.training import NonFiniteLoss

    try:
        return live.run(task.send, task.cancel_event)
    except (NonFiniteLoss, UserError):
        raise
    except Exception as exc:  # shown to the user; the saved epochs stay as they are
        raise RuntimeError(f"training failed: {exc}") from exc
