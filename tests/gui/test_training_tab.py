"""The training tab driven through its real widgets: fill the form, press Start / Pause / Stop,
watch the plot, follow the model in the explorer, close the window mid-run.

Every run trains for real (the core Trainer in the tab's QThread) on small data: 400-1,500
sprites of 16 px (a conv net where the architecture matters, an MLP elsewhere), so a run of
two epochs takes well under a second; a run the test acts on while it trains is given far
more epochs than it can finish meanwhile. What is checked is what the user sees (the plot's buffers,
the KL bars, the message label, the buttons, the explorer's run) against what the trainer
recorded in the run folder (steps.csv, history.csv, state.json, the weights).

Waits go through GUI-thread state (the tab's own slots have run) or its signals, never sleeps.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from safetensors import safe_open

from latentexplorer.bundled import bundled_run
from latentexplorer.checkpoint import WEIGHTS_FILE, is_run_folder, load_run, load_weights_file
from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from latentexplorer.training import train
from latentexplorer.training.trainer import STEP_LOG_EVERY

LEFT = Qt.MouseButton.LeftButton
RUN_TIMEOUT = 90_000  # ms for a short run to end on a busy 2-core machine
LONG = {"items": 1000, "epochs": 600}  # a run that is still going when the test acts on it


# --- helpers ------------------------------------------------------------------------------


def type_into(qtbot, edit, text: str) -> None:
    """Clear a line edit and type `text` into it, key by key."""
    edit.clear()
    if text:
        qtbot.keyClicks(edit, text)
    assert edit.text() == text


def fill_form(qtbot, tab, out, *, dataset="sprites", root="", items=1500, size=16, kind="vae",
              arch="mlp", latent=4, hidden="64", likelihood="bernoulli", epochs=2, batch=64,
              lr=1e-3, clip=0.0, seed=0) -> None:
    """Set every field of the form (the form remembers the previous test's settings)."""
    form = tab.form
    assert form.isEnabled()
    form.dataset.setCurrentText(dataset)
    type_into(qtbot, form.root, root)
    form.items.setValue(items)
    form.size.setValue(size)
    form.kind.setCurrentIndex(form.kind.findData(kind))
    form.arch.setCurrentText(arch)
    form.latent.setValue(latent)
    type_into(qtbot, form.hidden, hidden)
    form.beta.setValue(1.0)
    form.warmup.setValue(0.0)
    form.capacity.setValue(0.0)
    form.likelihood.setCurrentText(likelihood)
    form.epochs.setValue(epochs)
    form.batch.setValue(batch)
    form.lr.setValue(lr)
    form.clip.setValue(clip)
    form.seed.setValue(seed)
    type_into(qtbot, form.out, str(out))
    assert form.dataset.currentText() == dataset and form.kind.currentData() == kind


class Ends:
    """Records the tab's runFinished / runFailed (GUI-thread signals, emitted by its slots)."""

    def __init__(self, tab) -> None:
        self.tab = tab
        self.finished: list = []
        self.failed: list[str] = []
        tab.runFinished.connect(self.finished.append)
        tab.runFailed.connect(self.failed.append)

    def __bool__(self) -> bool:
        return bool(self.finished or self.failed)

    def disconnect(self) -> None:
        self.tab.runFinished.disconnect(self.finished.append)
        self.tab.runFailed.disconnect(self.failed.append)


def wait_until_finished(qtbot, tab, ends: Ends, timeout: int = RUN_TIMEOUT):
    """The TrainResult of the run, failing with the tab's message if the run failed instead."""
    qtbot.waitUntil(lambda: bool(ends), timeout=timeout)
    assert not ends.failed, f"the run failed: {ends.failed}"
    assert len(ends.finished) == 1
    # The worker's thread quits right after it reports; wait for it to be gone.
    qtbot.waitUntil(tab.run.thread.isFinished, timeout=10_000)
    return ends.finished[0]


def click_start(qtbot, tab) -> Ends:
    ends = Ends(tab)
    qtbot.mouseClick(tab.start_button, LEFT)
    return ends


def wait_for_steps(qtbot, tab, n: int = 1, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: len(tab.loss_plot.x) >= n, timeout=timeout)


def wait_for_epochs(qtbot, tab, n: int = 1, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: len(tab.loss_plot.val_x) >= n, timeout=timeout)


def stop_and_wait(qtbot, tab, ends: Ends):
    qtbot.mouseClick(tab.stop_button, LEFT)
    return wait_until_finished(qtbot, tab, ends, timeout=20_000)


def assert_finite_weights(folder: Path) -> dict:
    tensors = load_weights_file(Path(folder) / WEIGHTS_FILE)
    assert tensors
    for name, t in tensors.items():
        assert torch.isfinite(t).all(), f"{name} has non-finite values"
    return tensors


def small_run(folder: Path, *, dataset="sprites", size=16, items=1500, epochs=2) -> RunConfig:
    """A finished run written by the core API (as the CLI does)."""
    config = RunConfig(
        model=ModelConfig(kind="vae", latent_dim=4, hidden=(64,), architecture="mlp"),
        train=TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, seed=0),
        data=DataConfig(name=dataset, n=items if dataset == "sprites" else None,
                        size=size if dataset == "sprites" else None, seed=0),
    )
    result = train(config, folder)
    assert result.status == "completed" and result.epochs_done == epochs
    return load_run(folder).config


@pytest.fixture
def tab(window, monkeypatch):
    """The main window's training tab, shown.

    pytest-qt closes the window before fixtures tear down; closing it confirms stopping a run
    that a failed test left going (closeEvent then joins the thread), unless a test says no."""
    monkeypatch.setattr(window, "confirm_close_during_training", lambda: True)
    window.tabs.setCurrentWidget(window.training)
    return window.training


# --- 1. a run from the form to the explorer --------------------------------------------------


def test_a_run_from_the_form_plots_what_the_trainer_reported_and_opens_in_the_explorer(
        window, tab, qtbot, tmp_path):
    out = tmp_path / "sprites-vae"
    items, batch = 400, 16  # a conv net at 16 px: 360 training items, 23 steps per epoch
    fill_form(qtbot, tab, out, arch="auto", items=items, batch=batch, epochs=2)
    tab.follow.setChecked(False)
    assert not tab.open_button.isEnabled()
    ends = click_start(qtbot, tab)
    assert tab.run is not None
    result = wait_until_finished(qtbot, tab, ends)

    assert result.status == "completed" and result.epochs_done == 2
    run = load_run(out)
    assert run.epoch == 2 and run.config.model.image_shape == (1, 16, 16)
    assert run.config.model.latent_dim == 4 and run.config.model.hidden == (64,)
    assert run.config.model.resolved_architecture == "conv"
    assert run.config.data.name == "sprites" and run.config.data.n == items
    assert_finite_weights(out)

    # the plot holds exactly the step reports the trainer recorded, in order
    steps = run.steps()
    steps_per_epoch = tab.steps_per_epoch
    assert steps_per_epoch == int(np.ceil(360 / batch))  # 10% of 400 held out for validation
    assert len(steps) == (2 * steps_per_epoch) // STEP_LOG_EVERY >= 3
    plot = tab.loss_plot
    assert len(plot.x) == len(steps)
    np.testing.assert_allclose(plot.x, [r["progress"] for r in steps], atol=1e-5, rtol=0)
    for key in ("total", "recon", "kl", "reg"):
        np.testing.assert_allclose(plot.series[key], [r[key] for r in steps], rtol=1e-12)
    assert [int(r["step"]) for r in steps] == [STEP_LOG_EVERY * (i + 1) for i in range(len(steps))]
    # and what is drawn is what is buffered
    curve_x, curve_y = plot.curves["total"].getData()
    np.testing.assert_allclose(curve_x, plot.x)
    np.testing.assert_allclose(curve_y, plot.series["total"])
    # validation: one point per epoch, history.csv's val_total
    assert plot.val_x == [1, 2]
    np.testing.assert_allclose(plot.val_y, [h["val_total"] for h in run.history], rtol=1e-12)
    # it learned something
    assert plot.series["total"][-1] < plot.series["total"][0]
    # KL bars show the last epoch's KL per dimension
    np.testing.assert_allclose(tab.kl_bars.values, [run.history[-1][f"kl_dim_{i}"] for i in range(4)],
                               rtol=1e-6)
    assert tab.progress.value() == tab.progress.maximum() == 2 * steps_per_epoch
    assert tab.start_button.isEnabled() and not tab.stop_button.isEnabled()

    # open it in the explorer
    assert window.session.opened.run.folder == bundled_run("digits-vae-2d")
    assert tab.open_button.isEnabled()
    qtbot.mouseClick(tab.open_button, LEFT)
    assert Path(window.session.opened.run.folder) == out
    assert window.session.opened.run.epoch == 2
    window.tabs.setCurrentIndex(0)
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Explorer"
    assert out.name in window.windowTitle()
    assert f", {items:,} items" in window.status.text()
    assert len(window.session.opened.mu) == len(window.session.opened.images)
    assert window.session.opened.mu.shape[1] == 4


# --- 2. following training in the explorer ----------------------------------------------------


def test_training_gets_all_the_workers_threads_while_the_gui_thread_computes_serially(
        tab, qtbot, tmp_path, monkeypatch):
    """A GUI thread with an OpenMP team of its own made training in the worker ~40 % slower
    (libgomp parks its threads once it manages more than there are cores)."""
    from latentexplorer.gui.compute_threads import worker_thread_count
    from latentexplorer.training.trainer import Trainer

    threads_in_fit: list[int] = []
    original_fit = Trainer.fit

    def fit(self):
        threads_in_fit.append(torch.get_num_threads())
        return original_fit(self)

    monkeypatch.setattr(Trainer, "fit", fit)
    fill_form(qtbot, tab, tmp_path / "run", epochs=1)
    wait_until_finished(qtbot, tab, click_start(qtbot, tab))
    assert threads_in_fit == [worker_thread_count()]
    assert torch.get_num_threads() == 1  # the GUI thread


def test_the_progress_bar_follows_the_steps_a_few_times_a_second_and_each_epoch_end(tab, qtbot, tmp_path):
    """Every step report reaches the loss curve; the progress bar and its line repaint at most
    about four times a second (and at each epoch's end), not at every report."""
    import time as clock

    from latentexplorer.gui.training import training_tab

    fill_form(qtbot, tab, tmp_path / "run", items=3000, batch=16, epochs=3)
    tab.follow.setChecked(False)
    values: list[tuple[float, int]] = []
    tab.progress.valueChanged.connect(lambda v: values.append((clock.perf_counter(), v)))
    steps: list[int] = []
    started = clock.perf_counter()
    ends = click_start(qtbot, tab)
    tab.run.yielded.connect(lambda record: steps.append(1) if record[0] == "step" else None)
    result = wait_until_finished(qtbot, tab, ends)
    elapsed = clock.perf_counter() - started
    assert result.status == "completed"
    assert len(tab.loss_plot.x) == len(load_run(tmp_path / "run").steps()) >= 3 * 5
    shown = [v for _, v in values if v > 0]
    # at most one per PROGRESS_EVERY_S, the first report, each epoch's last report and its end, the run's end
    assert len(shown) <= elapsed / training_tab.PROGRESS_EVERY_S + 1 + 2 * 3 + 1
    assert len(shown) < len(steps)  # not one repaint per report
    per_epoch = tab.steps_per_epoch
    assert all(e * per_epoch in shown for e in (1, 2, 3))  # each epoch's end is shown exactly
    assert tab.progress.value() == tab.progress.maximum() == 3 * per_epoch


def test_a_mixture_fitted_in_the_gui_thread_runs_scikit_learns_openmp_on_one_thread(tab, monkeypatch):
    """scikit-learn's own OpenMP keeps a team for each thread that ran a parallel k-means; one
    parked in the GUI thread made a later training run in its worker ~30 % slower. The small
    sets fitted in the GUI thread (a change of K, a small run) are fitted serially."""
    from threadpoolctl import threadpool_info

    from latentexplorer.analysis import mixture

    session = tab.session
    assert session.opened.has_run and len(session.opened.mu) <= 20_000  # fitted in the GUI thread
    openmp_threads: list[int] = []
    original = mixture.fit_kmeans

    def fit_kmeans(*args, **kwargs):
        openmp_threads.extend(info["num_threads"] for info in threadpool_info()
                              if info["user_api"] == "openmp" and "scikit_learn" in info["filepath"])
        return original(*args, **kwargs)

    monkeypatch.setattr(mixture, "fit_kmeans", fit_kmeans)
    session.refit()
    assert session.colouring.mixture is not None and not session.fitting
    assert openmp_threads and set(openmp_threads) == {1}


def test_other_workers_compute_on_one_thread_while_a_run_trains(tab, qtbot, tmp_path, monkeypatch):
    """A mixture refit or an evaluation started during training must not give its thread an
    OpenMP team of two: with two teams libgomp parks every thread between ops, and an idle
    thread holding a team halved the training's samples/s. Outside a run they get every core."""
    import threading

    from latentexplorer.gui import compute_threads
    from latentexplorer.gui.tasks import TaskWorker
    from latentexplorer.training.trainer import Trainer

    def threads_of_a_task() -> int:
        seen: list[int] = []
        worker = TaskWorker(torch.get_num_threads, (), {}, "worker", None, False, False)
        worker.result.connect(seen.append, Qt.ConnectionType.DirectConnection)
        worker.run()  # as a task's thread runs it
        return seen[0]

    during: list[int] = []
    original_fit = Trainer.fit

    def fit(self):
        result = threading.Thread(target=lambda: during.append(threads_of_a_task()))
        result.start()
        result.join()
        return original_fit(self)

    monkeypatch.setattr(Trainer, "fit", fit)
    fill_form(qtbot, tab, tmp_path / "run", epochs=1)
    wait_until_finished(qtbot, tab, click_start(qtbot, tab))
    assert during == [1]
    after: list[int] = []
    thread = threading.Thread(target=lambda: after.append(threads_of_a_task()))
    thread.start()
    thread.join()
    assert after == [compute_threads.worker_thread_count()]


def test_a_run_keeps_every_core_when_a_worker_starts_beside_it(tab, qtbot, tmp_path, monkeypatch):
    """torch sets up a thread's count lazily, from the count last set by any thread: a run
    whose first op came after a worker beside it had asked for one thread trained on one
    thread, at about half speed."""
    import threading

    import latentexplorer.training
    from latentexplorer.gui import compute_threads
    from latentexplorer.training.trainer import Trainer

    monkeypatch.setattr(compute_threads, "_worker_threads", 2)  # two cores' worth, on any machine
    original_prepare = latentexplorer.training.prepare_training

    def prepare(*args, **kwargs):  # in the run's thread, before its first op
        beside = threading.Thread(target=compute_threads.use_worker_threads)  # a refit starting
        beside.start()
        beside.join()
        return original_prepare(*args, **kwargs)

    seen: list[int] = []
    original_fit = Trainer.fit

    def fit(self):
        seen.append(torch.get_num_threads())
        return original_fit(self)

    monkeypatch.setattr(latentexplorer.training, "prepare_training", prepare)
    monkeypatch.setattr(Trainer, "fit", fit)
    fill_form(qtbot, tab, tmp_path / "run", epochs=1)
    wait_until_finished(qtbot, tab, click_start(qtbot, tab))
    assert seen == [2]


def test_the_loss_plot_waits_while_hidden_and_catches_up_when_its_tab_is_shown(window, tab, qtbot):
    """Behind another tab the curves are not redrawn (on two cores the GUI thread's work comes
    out of the training loop's); clicking the Training tab shows every step so far."""
    plot = tab.loss_plot
    plot.clear()
    bar = window.tabs.tabBar()
    assert window.tabs.tabText(0) == "Explorer"
    qtbot.mouseClick(bar, LEFT, pos=bar.tabRect(0).center())
    assert not plot.isVisible()
    for i in range(5):
        plot.add_step(i / 10, {"total": 10.0 - i, "recon": 8.0, "kl": 2.0, "reg": 2.0})
    qtbot.wait(3 * 250)  # three of the timer's redraws
    x, _ = plot.curves["total"].getData()
    assert x is None or len(x) == 0
    qtbot.mouseClick(bar, LEFT, pos=bar.tabRect(window.tabs.indexOf(window.training)).center())
    assert plot.isVisible()
    assert list(plot.curves["total"].getData()[1]) == [10.0, 9.0, 8.0, 7.0, 6.0]


def test_follow_shows_each_epochs_model_then_returns_and_scrub_moves_between_epochs(
        window, tab, qtbot, tmp_path):
    session = window.session
    previous_run, previous_images = session.opened.run, session.opened.images
    out = tmp_path / "followed"
    fill_form(qtbot, tab, out, items=500, epochs=3)
    tab.follow.setChecked(True)
    shown = []  # what the explorer showed, each time its model changed

    def record():
        run = session.opened.run
        snapshot = tab.snapshots[-1].model if tab.snapshots else None
        same = snapshot is not None and all(
            torch.equal(a, b) for a, b in zip(session.opened.model.state_dict().values(),
                                              snapshot.state_dict().values()))
        entry = (Path(run.folder), run.state.get("epoch"), run is previous_run, same)
        if not shown or shown[-1] != entry:
            shown.append(entry)

    # A new model is a new run (runChanged); the next epoch of the one in training may only move
    # the codes. Either way the projection is redone, so projectionChanged marks every change.
    signals = [session.opened.runChanged, session.view.projectionChanged]
    for signal in signals:
        signal.connect(record)
    try:
        ends = click_start(qtbot, tab)
        result = wait_until_finished(qtbot, tab, ends)
    finally:
        for signal in signals:
            signal.disconnect(record)

    assert result.status == "completed" and result.epochs_done == 3
    # after every epoch the explorer showed that epoch's weights (the tab's eval copy), in order
    assert shown[:3] == [(out, 1, False, True), (out, 2, False, True), (out, 3, False, True)]
    # when the run ended it went back to the model it had before
    assert len(shown) == 4 and shown[3][2]
    assert session.opened.run is previous_run and session.opened.images is previous_images
    assert previous_run.folder.name in window.windowTitle()

    # the scrub slider: one position per epoch, on the last; moving it shows that epoch
    scrub = tab.scrub
    assert scrub.isEnabled()
    assert (scrub.minimum(), scrub.maximum(), scrub.value()) == (0, 2, 2)
    assert [s.epoch for s in tab.snapshots] == [1, 2, 3]
    scrub.setFocus()
    qtbot.keyClick(scrub, Qt.Key.Key_Home)
    assert scrub.value() == 0
    assert Path(session.opened.run.folder) == out and session.opened.run.state["epoch"] == 1
    assert tab.scrub_label.text() == "epoch 1"
    qtbot.keyClick(scrub, Qt.Key.Key_Right)
    assert session.opened.run.state["epoch"] == 2
    scrub.setValue(2)
    assert session.opened.run.state["epoch"] == 3
    saved = load_run(out).model.state_dict()
    for key, value in session.opened.model.state_dict().items():
        torch.testing.assert_close(value, saved[key])  # the last snapshot is the saved model


def responsibilities_under(mixture, codes: np.ndarray) -> np.ndarray:
    """p(component | code) from the mixture's own weights, means and covariances."""
    log_p = []
    for weight, mean, cov in zip(mixture.weights, mixture.means, mixture.covariances):
        chol = np.linalg.cholesky(cov)
        solved = np.linalg.solve(chol, (codes - mean).T)
        log_p.append(np.log(weight) - 0.5 * (solved**2).sum(0) - np.log(np.diag(chol)).sum())
    log_p = np.array(log_p).T
    log_p -= log_p.max(axis=1, keepdims=True)
    p = np.exp(log_p)
    return p / p.sum(axis=1, keepdims=True)


def test_each_followed_epoch_is_drawn_once_with_the_colours_of_its_own_codes(
        window, tab, qtbot, tmp_path, monkeypatch):
    """The points of a new epoch never show in the previous epoch's colours: the training
    thread fits the mixture of each epoch's codes, and the explorer gets both at once."""
    from latentexplorer.training import live

    monkeypatch.setattr(live, "FIT_BUDGET", 1e9)  # every epoch's fit is within budget
    session, cloud = window.session, window.scatter.points
    fill_form(qtbot, tab, tmp_path / "followed", items=500, epochs=4)
    tab.follow.setChecked(True)
    frames = []  # per projection change while following: (epoch, colours match the codes, busy)

    def record():
        if not session.opened.run.state.get("training") or session.colouring.mixture is None:
            return
        codes = session.opened.mu.astype(np.float64)
        own = responsibilities_under(session.colouring.mixture, codes)
        matches = np.allclose(own, session.colouring.mixture.responsibilities, atol=1e-3)
        drawn = np.array_equal(cloud.rgba, session.colouring.colours) and len(cloud) == len(codes)
        frames.append((session.opened.run.state["epoch"], matches and drawn, session.fitting))

    session.view.projectionChanged.connect(record)
    session.colouring.coloursChanged.connect(record)
    try:
        ends = click_start(qtbot, tab)
        wait_until_finished(qtbot, tab, ends)
    finally:
        session.view.projectionChanged.disconnect(record)
        session.colouring.coloursChanged.disconnect(record)
    following = [f for f in frames if f[0] >= 2]  # epoch 1 opens the run; 2-4 follow it
    assert {f[0] for f in following} == {2, 3, 4}
    assert all(ok for _, ok, _ in following), following
    assert not any(fitting for *_, fitting in following), "no mixture fit in a worker per epoch"
    assert all(s.mixtures is not None and s.mixtures[0].k == session.colouring.k for s in tab.snapshots)


def test_a_followed_run_keeps_to_the_explorers_k_and_fits_tiny_epochs_only_now_and_then(
        window, tab, qtbot, tmp_path, monkeypatch):
    from latentexplorer.training import live

    session = window.session
    monkeypatch.setattr(live, "FIT_BUDGET", 1e9)  # first, every epoch's fit is within budget
    fill_form(qtbot, tab, tmp_path / "followed", **LONG)
    tab.follow.setChecked(True)
    ends = click_start(qtbot, tab)
    qtbot.waitUntil(lambda: bool(tab.snapshots), timeout=60_000)
    window.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: not session.fitting, timeout=30_000)
    window.controls.k.setValue(3)  # the user asks for three components mid-run
    # the training thread hears of it once the explorer has refitted; its fits then have K = 3
    qtbot.waitUntil(lambda: tab.snapshots[-1].mixtures[0].k == 3 and not session.fitting, timeout=60_000)
    assert session.colouring.mixture.k == 3 and session.colouring.k == 3
    assert len(session.colouring.mixture.responsibilities) == len(session.opened.mu)
    assert window.scatter.legend.count() == 3
    # epochs far shorter than a fit: the training thread fits only every few epochs, and the
    # explorer fits the others in a worker
    monkeypatch.setattr(live, "FIT_BUDGET", 1e-9)
    seen = len(tab.snapshots)
    qtbot.waitUntil(lambda: len(tab.snapshots) >= seen + 4, timeout=60_000)
    assert stop_and_wait(qtbot, tab, ends).status == "cancelled"
    later = tab.snapshots[seen:]
    assert sum(s.mixtures is not None for s in later) <= 1
    qtbot.waitUntil(lambda: not session.fitting, timeout=30_000)
    assert session.colouring.mixture.k == 3


def test_follow_toggled_mid_run_returns_to_the_previous_model_and_back(window, tab, qtbot, tmp_path):
    session = window.session
    previous = session.opened.run
    out = tmp_path / "toggled"
    fill_form(qtbot, tab, out, **LONG)
    tab.follow.setChecked(True)
    ends = click_start(qtbot, tab)
    qtbot.waitUntil(lambda: bool(tab.snapshots), timeout=60_000)
    assert Path(session.opened.run.folder) == out and session.opened.run.state["training"]
    tab.follow.setChecked(False)
    assert session.opened.run is previous
    epochs_seen = len(tab.snapshots)
    qtbot.waitUntil(lambda: len(tab.snapshots) > epochs_seen, timeout=60_000)
    assert session.opened.run is previous, "with follow off a new epoch must not replace the model"
    tab.follow.setChecked(True)
    assert Path(session.opened.run.folder) == out
    assert session.opened.run.state["epoch"] == tab.snapshots[-1].epoch
    assert stop_and_wait(qtbot, tab, ends).status == "cancelled"
    assert session.opened.run is previous


def test_after_a_followed_run_the_explorer_is_not_left_busy(window, tab, qtbot, tmp_path):
    fill_form(qtbot, tab, tmp_path / "followed", items=500, epochs=2)
    tab.follow.setChecked(True)
    ends = click_start(qtbot, tab)
    wait_until_finished(qtbot, tab, ends)
    window.session.shutdown()  # join any background mixture fit
    qtbot.wait(100)  # deliver its result
    assert window.session.colouring.mixture is not None
    assert not window.busy.isVisible(), window.busy.toolTip()


# --- 3. stop -----------------------------------------------------------------------------------


def test_stop_mid_run_ends_within_seconds_and_keeps_the_last_complete_epoch(tab, qtbot, tmp_path):
    out = tmp_path / "stopped"
    fill_form(qtbot, tab, out, **LONG)
    tab.follow.setChecked(False)
    ends = click_start(qtbot, tab)
    wait_for_epochs(qtbot, tab, 1)
    assert tab.is_running()
    started = time.perf_counter()
    qtbot.mouseClick(tab.stop_button, LEFT)
    qtbot.waitUntil(lambda: bool(ends), timeout=10_000)
    assert time.perf_counter() - started < 10
    assert not ends.failed
    result = ends.finished[0]
    assert result.status == "cancelled"
    assert 1 <= result.epochs_done < LONG["epochs"]
    assert tab.run.thread.wait(10_000) and tab.run.thread.isFinished()
    assert len(tab.loss_plot.val_x) == result.epochs_done  # every saved epoch was reported
    assert f"({result.epochs_done})" in tab.message.text()
    assert tab.start_button.isEnabled() and not tab.pause_button.isEnabled()

    run = load_run(out)
    assert run.epoch == result.epochs_done == run.state["epoch"]
    assert len(run.history) == result.epochs_done
    tensors = assert_finite_weights(out)
    with safe_open(str(out / WEIGHTS_FILE), framework="pt") as handle:
        assert handle.metadata()["epoch"] == str(result.epochs_done)
    assert set(tensors) == set(run.model.state_dict())
    assert tab.open_button.isEnabled()


# --- 4. pause ------------------------------------------------------------------------------------


def test_pause_stops_the_step_reports_and_resume_continues(tab, qtbot, tmp_path):
    out = tmp_path / "paused"
    fill_form(qtbot, tab, out, **LONG)
    tab.follow.setChecked(False)
    ends = click_start(qtbot, tab)
    wait_for_steps(qtbot, tab, 2)
    qtbot.mouseClick(tab.pause_button, LEFT)
    assert tab.pause_button.isChecked() and tab.pause_button.text() == "Resume"
    trainer = tab.live.trainer
    qtbot.waitUntil(lambda: not trainer.running.is_set(), timeout=1000)
    qtbot.wait(500)  # the batch in flight (and an epoch's end) may still report
    reports, step = len(tab.loss_plot.x), trainer.step
    qtbot.wait(600)
    assert len(tab.loss_plot.x) == reports, "step reports kept arriving while paused"
    assert trainer.step == step, "the trainer kept stepping while paused"
    assert tab.is_running() and tab.stop_button.isEnabled()

    qtbot.mouseClick(tab.pause_button, LEFT)
    assert not tab.pause_button.isChecked() and tab.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: len(tab.loss_plot.x) > reports, timeout=20_000)
    assert trainer.step > step
    assert stop_and_wait(qtbot, tab, ends).status == "cancelled"


def test_stop_while_paused_ends_the_run(tab, qtbot, tmp_path):
    fill_form(qtbot, tab, tmp_path / "paused-stopped", **LONG)
    tab.follow.setChecked(False)
    ends = click_start(qtbot, tab)
    wait_for_steps(qtbot, tab, 1)
    qtbot.mouseClick(tab.pause_button, LEFT)
    result = stop_and_wait(qtbot, tab, ends)
    assert result.status == "cancelled"
    assert not tab.pause_button.isChecked() and tab.pause_button.text() == "Pause"


# --- 5. closing the window mid-run -------------------------------------------------------------


def test_closing_the_window_mid_run_stops_and_joins_the_thread(window, tab, qtbot, tmp_path,
                                                               monkeypatch):
    asked = []
    monkeypatch.setattr(window, "confirm_close_during_training", lambda: asked.append(1) or True)
    out = tmp_path / "closed"
    fill_form(qtbot, tab, out, **LONG)
    tab.follow.setChecked(False)
    click_start(qtbot, tab)
    wait_for_steps(qtbot, tab, 1)
    thread = tab.run.thread
    started = time.perf_counter()
    assert window.close()
    assert time.perf_counter() - started < 15
    assert asked == [1]
    assert not window.isVisible()
    assert thread.isFinished()
    qtbot.wait(50)  # the worker's queued last reports arrive without error
    if is_run_folder(out):  # an epoch may have finished before the close
        run = load_run(out)
        assert run.epoch >= 1 and len(run.history) == run.epoch
        assert_finite_weights(out)


def test_closing_is_refused_when_not_confirmed_and_training_goes_on(window, tab, qtbot, tmp_path,
                                                                    monkeypatch):
    asked = []
    monkeypatch.setattr(window, "confirm_close_during_training", lambda: asked.append(1) and False)
    fill_form(qtbot, tab, tmp_path / "kept", **LONG)
    tab.follow.setChecked(False)
    ends = click_start(qtbot, tab)
    try:
        wait_for_steps(qtbot, tab, 1)
        assert not window.close()
        assert asked == [1]
        assert window.isVisible() and tab.is_running()
        reports = len(tab.loss_plot.x)
        qtbot.waitUntil(lambda: len(tab.loss_plot.x) > reports, timeout=20_000)
    finally:  # never leave a run that the window would refuse to stop
        monkeypatch.setattr(window, "confirm_close_during_training", lambda: True)
    assert stop_and_wait(qtbot, tab, ends).status == "cancelled"
    assert window.isVisible()


# --- 6. divergence -----------------------------------------------------------------------------


def test_a_diverging_run_fails_with_a_message_that_says_what_to_change(window, tab, qtbot, tmp_path):
    out = tmp_path / "diverged"
    previous = window.session.opened.run
    fill_form(qtbot, tab, out, arch="auto", likelihood="gaussian-learned", lr=10.0, epochs=3)
    assert tab.form.lr.value() == 10.0
    ends = Ends(tab)
    qtbot.mouseClick(tab.start_button, LEFT)
    qtbot.waitUntil(lambda: bool(ends), timeout=RUN_TIMEOUT)
    assert not ends.finished, "lr 10 on a conv VAE should not train"
    (message,) = ends.failed
    assert "NaN or infinite" in message
    assert "learning rate" in message and "(now 10)" in message
    assert "gradient clipping" in message  # off unless the Gradient clip field sets one
    assert tab.message.text() == message
    qtbot.waitUntil(tab.run.thread.isFinished, timeout=10_000)
    assert tab.start_button.isEnabled() and not tab.stop_button.isEnabled()
    assert window.session.opened.run is previous
    if is_run_folder(out):
        run = load_run(out)
        assert run.epoch >= 1
        assert_finite_weights(out)
        assert tab.open_button.isEnabled()
    else:
        assert not tab.open_button.isEnabled()


def test_the_gradient_clip_field_reaches_the_run(tab, qtbot, tmp_path):
    out = tmp_path / "clipped"
    fill_form(qtbot, tab, out, epochs=1)
    tab.follow.setChecked(False)
    tab.form.clip.setFocus()
    tab.form.clip.selectAll()
    qtbot.keyClicks(tab.form.clip, "5")
    qtbot.keyClick(tab.form.clip, Qt.Key.Key_Tab)
    assert tab.form.clip.value() == 5.0
    ends = click_start(qtbot, tab)
    assert wait_until_finished(qtbot, tab, ends).status == "completed"
    assert load_run(out).config.train.grad_clip == 5.0



def test_a_run_from_the_tab_logs_to_tensorboard_or_says_once_how_to(tab, qtbot, tmp_path, monkeypatch):
    """The tab's runs write tb/ and provenance.json as the CLI's do; without tensorboard the
    tab's message says how to turn logging on, and the run trains the same."""
    import json
    import sys

    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from latentexplorer.training import tensorboard_log

    out = tmp_path / "logged"
    fill_form(qtbot, tab, out, items=400, epochs=1)
    tab.follow.setChecked(False)
    assert wait_until_finished(qtbot, tab, click_start(qtbot, tab)).status == "completed"
    board = EventAccumulator(str(out / "tb"))
    board.Reload()
    run = load_run(out)
    assert [s.value for s in board.Scalars("validation/total")] == pytest.approx([run.history[0]["val_total"]])
    assert "reconstructions" in board.Tags()["images"] and tab.message.text() == ""
    assert json.loads((out / "provenance.json").read_text())["epochs"] == 1

    monkeypatch.setitem(sys.modules, "tensorboard", None)
    monkeypatch.setattr(tensorboard_log, "_said", False)
    type_into(qtbot, tab.form.out, str(tmp_path / "unlogged"))
    assert wait_until_finished(qtbot, tab, click_start(qtbot, tab)).status == "completed"
    assert "latentexplorer[tensorboard]" in tab.notes.text() and tab.message.text() == ""
    assert load_run(tmp_path / "unlogged").epoch == 1 and not (tmp_path / "unlogged" / "tb").exists()

# --- 7. invalid configurations ------------------------------------------------------------------


def test_invalid_configurations_are_refused_before_any_thread_starts(tab, qtbot, tmp_path):
    def refused(fragment: str) -> None:
        qtbot.mouseClick(tab.start_button, LEFT)
        assert tab.run is None, "a worker was created for an invalid configuration"
        assert fragment in tab.message.text()
        assert tab.start_button.isEnabled() and tab.form.isEnabled()

    fill_form(qtbot, tab, tmp_path / "zero", latent=0)
    refused("latent dimension")
    assert not (tmp_path / "zero").exists()

    missing = tmp_path / "no-such-mnist"
    fill_form(qtbot, tab, tmp_path / "mnist", dataset="mnist", root=str(missing))
    refused(str(missing))
    fill_form(qtbot, tab, tmp_path / "mnist", dataset="mnist", root="")
    refused("mnist needs a data location")

    fill_form(qtbot, tab, tmp_path / "bad-hidden", hidden="64,abc")
    refused("hidden widths")

    existing = tmp_path / "digits-run"
    small_run(existing, dataset="digits")
    before = {p.name: p.stat().st_mtime_ns for p in existing.iterdir()}
    fill_form(qtbot, tab, existing)
    refused("already holds a run")
    assert "Continue" in tab.message.text()

    # resuming it with data of another shape: the form switched to 32-px sprites
    fill_form(qtbot, tab, existing, dataset="sprites", size=32)
    assert tab.start(resume=True) is False
    assert tab.run is None
    assert "(1, 32, 32)" in tab.message.text() and "(1, 8, 8)" in tab.message.text()
    assert {p.name: p.stat().st_mtime_ns for p in existing.iterdir()} == before

    # a valid configuration then starts, and the message is cleared
    fill_form(qtbot, tab, tmp_path / "fine", epochs=1)
    ends = click_start(qtbot, tab)
    assert tab.run is not None and tab.message.text() == ""
    assert wait_until_finished(qtbot, tab, ends).status == "completed"


def test_continue_run_on_a_folder_that_is_no_run_says_so(tab, qtbot, tmp_path):
    assert tab.continue_run(tmp_path / "nothing-here") is False
    assert tab.run is None
    assert "nothing-here" in tab.message.text()


# --- 8. one run at a time ------------------------------------------------------------------------


def test_a_second_run_cannot_start_while_one_runs(tab, qtbot, tmp_path):
    fill_form(qtbot, tab, tmp_path / "first", **LONG)
    tab.follow.setChecked(False)
    ends = click_start(qtbot, tab)
    first = tab.run
    wait_for_steps(qtbot, tab, 1)
    assert not tab.start_button.isEnabled()
    assert not tab.continue_button.isEnabled()
    assert not tab.form.isEnabled()
    assert tab.pause_button.isEnabled() and tab.stop_button.isEnabled()
    qtbot.mouseClick(tab.start_button, LEFT)  # a disabled button does nothing
    assert tab.run is first
    assert tab.start() is False
    assert tab.run is first
    assert "already in progress" in tab.message.text()
    assert first.is_running()
    assert stop_and_wait(qtbot, tab, ends).status == "cancelled"
    assert tab.run is first


def test_continue_run_while_training_leaves_the_form_alone(tab, qtbot, tmp_path):
    other = tmp_path / "digits-run"
    small_run(other, dataset="digits")
    out = tmp_path / "running"
    fill_form(qtbot, tab, out, **LONG)
    tab.follow.setChecked(False)
    ends = click_start(qtbot, tab)
    wait_for_steps(qtbot, tab, 1)
    try:
        assert tab.continue_run(other, epochs=5) is False
        assert "already in progress" in tab.message.text()
        assert tab.form.out.text() == str(out)
        assert tab.form.dataset.currentText() == "sprites"
        assert tab.form.epochs.value() == LONG["epochs"]
    finally:
        stop_and_wait(qtbot, tab, ends)


# --- 9. a finished run opened in the explorer shows its curves -----------------------------------


def test_opening_a_run_shows_its_recorded_curves_and_kl_per_dimension(window, tab, qtbot, tmp_path):
    folder = tmp_path / "recorded"
    small_run(folder, dataset="digits", epochs=3)
    run = load_run(folder)
    assert window.session.open_run(folder)
    plot = tab.loss_plot
    steps = run.steps()
    assert len(steps) >= 3
    np.testing.assert_allclose(plot.x, [r["progress"] for r in steps], rtol=1e-12)
    np.testing.assert_allclose(plot.series["total"], [r["total"] for r in steps], rtol=1e-12)
    assert plot.val_x == [1, 2, 3]
    np.testing.assert_allclose(plot.val_y, [h["val_total"] for h in run.history], rtol=1e-12)
    last = run.history[-1]
    np.testing.assert_allclose(tab.kl_bars.values, [last[f"kl_dim_{i}"] for i in range(4)], rtol=1e-12)
    assert "after epoch 3" in tab.kl_bars.caption.text()
    assert "recorded" in tab.progress_text.text()


# --- 10. continue training ------------------------------------------------------------------------


def test_continue_run_loads_the_config_into_the_form_and_trains_on(tab, qtbot, tmp_path):
    folder = tmp_path / "two-epochs"
    saved = small_run(folder, epochs=2)
    tab.follow.setChecked(False)
    ends = Ends(tab)
    assert tab.continue_run(folder, epochs=3) is True
    form = tab.form
    assert form.dataset.currentText() == saved.data.name == "sprites"
    assert form.items.value() == saved.data.n == 1500
    assert form.size.value() == saved.data.size == 16
    assert form.kind.currentData() == saved.model.kind
    assert form.latent.value() == saved.model.latent_dim
    assert form.hidden.text() == "64"
    assert form.likelihood.currentText() == saved.model.likelihood
    assert form.batch.value() == saved.train.batch_size
    assert form.lr.value() == pytest.approx(saved.train.lr)
    assert form.clip.value() == saved.train.grad_clip == 0.0 and form.clip.text() == "off"
    assert form.seed.value() == saved.train.seed
    assert form.epochs.value() == 3
    assert Path(form.out.text()) == folder
    shown = form.run_config()
    assert replace(shown.model, image_shape=saved.model.image_shape) == saved.model
    assert shown.data == saved.data
    assert replace(shown.train, epochs=2) == saved.train

    result = wait_until_finished(qtbot, tab, ends)
    assert result.status == "completed" and result.epochs_done == 3
    run = load_run(folder)
    assert run.epoch == 3 and len(run.history) == 3
    assert run.config.model == saved.model and run.config.train.epochs == 3
    assert_finite_weights(folder)
    # the plot continues the recorded curves
    assert tab.loss_plot.val_x == [1, 2, 3]
    np.testing.assert_allclose(tab.loss_plot.val_y, [h["val_total"] for h in run.history], rtol=1e-12)
    steps = run.steps()
    assert len(tab.loss_plot.x) == len(steps)
    np.testing.assert_allclose(tab.loss_plot.series["total"], [r["total"] for r in steps], rtol=1e-12)


def test_a_continued_run_shows_each_epoch_once_however_late_the_window_reads_its_start(
        tab, qtbot, tmp_path, monkeypatch):
    """The start of a resumed run is copied in the training thread: a GUI thread busy for a
    second (the next epoch ends meanwhile) once read the trainer's live history and plotted
    that epoch twice."""
    from latentexplorer.gui.training.training_tab import TrainingTab

    folder = tmp_path / "two-epochs"
    small_run(folder, epochs=2)
    started = TrainingTab._started

    def late(self, start) -> None:
        time.sleep(1.0)  # the window is busy elsewhere; the training thread trains on
        started(self, start)

    monkeypatch.setattr(TrainingTab, "_started", late)
    tab.follow.setChecked(False)
    ends = Ends(tab)
    assert tab.continue_run(folder, epochs=3)
    result = wait_until_finished(qtbot, tab, ends)
    assert result.status == "completed" and result.epochs_done == 3
    assert tab.loss_plot.val_x == [1, 2, 3]
