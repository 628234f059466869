"""The ELBO tab's computation as a task for the TaskRunner: the IWAE curve and, when the data
have ground-truth factors, MIG / SAP / DCI (`analysis.evaluation.evaluate_model`)."""

from __future__ import annotations

from latentexplorer.analysis.evaluation import EvaluationResult, evaluate_model
from latentexplorer.data import ImageSet
from latentexplorer.errors import UserError
from latentexplorer.gui.tasks import TaskContext


def run_evaluation(model, images: ImageSet, ks: tuple[int, ...], n: int, task: TaskContext) -> EvaluationResult:
    """Runs in the task's thread: progress a few times a second, cancel seen per batch."""
    try:
        return evaluate_model(model, images, ks, n, progress=task.progress, check=task.check)
    except UserError:
        raise
    except Exception as exc:  # shown to the user; the open run stays as it is
        if task.cancelled:
            raise
        raise RuntimeError(f"evaluation failed: {exc}") from exc


__all__ = ["EvaluationResult", "run_evaluation"]
