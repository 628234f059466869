"""`le.show(model, data)` from a notebook: the user's own module on their tensor or Dataset,
a handle that answers with codes and selections and colours by the user's values, the
blocking form for scripts, and the non-blocking form in a real IPython kernel."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PySide6.QtCore import QTimer
from test_open_user_model import check_clicks_drags_and_sliders, check_elbo_tab

import latentexplorer as le
from latentexplorer.config import DataConfig
from latentexplorer.data import load_dataset
from latentexplorer.errors import DataError
from latentexplorer.gui.state.previews import PointPreview
from latentexplorer.models import WrappedModel


@pytest.fixture(scope="module")
def digits():
    images = load_dataset(DataConfig(name="digits"))
    return images.float_batch(np.arange(len(images))), images.labels


@pytest.fixture
def shown(qtbot, trained_user_models, digits, request):
    """le.show on the user's module (not a path, not our class) and a tensor of images."""
    user = trained_user_models[getattr(request, "param", "mlp")]
    x, labels = digits
    ex = le.show(user.load(), x, labels=[f"digit {v}" for v in labels])
    qtbot.addWidget(ex.window)
    qtbot.waitUntil(lambda: ex.session.colouring.mixture is not None, timeout=30_000)
    yield ex, user, x
    ex.close()
    gc.unfreeze()  # start_window froze the heap


@pytest.mark.parametrize("shown", ["mlp", "conv"], indirect=True)
def test_show_explores_the_users_module_on_a_tensor(shown, qtbot):
    ex, user, x = shown
    assert isinstance(ex.session.opened.model, WrappedModel)
    with torch.no_grad():
        np.testing.assert_allclose(ex.codes(), user.load().encode(x)[0].numpy(), atol=1e-5)
    assert ex.codes() is not ex.session.opened.mu
    check_clicks_drags_and_sliders(ex.window, user, qtbot)
    if user.name == "conv":
        check_elbo_tab(ex.window, qtbot)


def test_the_handle_selects_reads_the_selection_and_colours(shown, qtbot):
    ex, _, _ = shown
    assert "1,797 items" in repr(ex)
    with qtbot.waitSignal(ex.session.selection.previewChanged, timeout=5000) as shown_preview:
        ex.select(42)
    assert isinstance(shown_preview.args[0], PointPreview) and shown_preview.args[0].index == 42
    np.testing.assert_array_equal(ex.selection(), [42])
    assert shown_preview.args[0].label == ex.session.opened.label_of(42)
    with pytest.raises(IndexError, match="1797 items"):
        ex.select(5000)
    # classes: a legend of the user's names, and the colour control shows the mode
    ex.colour_by(np.where(np.arange(1797) % 2 == 0, "even", "odd"), name="parity")
    assert ex.session.colouring.mode == "custom"
    assert ex.window.controls.colour.currentText() == "Colour by: parity"
    assert [name for _, name, _ in ex.session.colouring.legend()] == ["even", "odd"]
    colours = ex.session.colouring.colours
    assert (colours[0] == colours[2]).all() and not (colours[0] == colours[1]).all()
    # numbers: a colour scale; its ends differ
    ex.colour_by(torch.arange(1797.0) / 10, name="index")
    assert ex.session.colouring.legend() == []
    assert not (ex.session.colouring.colours[0] == ex.session.colouring.colours[-1]).all()
    with pytest.raises(ValueError, match="3 values for 1797 items"):
        ex.colour_by([1, 2, 3])


def test_labels_given_to_show_colour_the_points(shown):
    ex, _, _ = shown
    assert "labels" in ex.session.colouring.colour_modes()
    assert ex.session.opened.label_of(0) == "digit 0"


def test_close_ends_the_handle(qtbot, trained_user_models, digits):
    ex = le.show(trained_user_models["mlp"].load(), digits[0][:200])
    qtbot.addWidget(ex.window)
    ex.close()
    assert ex.closed and not ex.window.isVisible()
    with pytest.raises(RuntimeError, match="closed"):
        ex.codes()
    gc.unfreeze()


class Pairs(torch.utils.data.Dataset):
    def __init__(self, x, labels):
        self.x, self.labels = x, labels

    def __len__(self):
        return 300

    def __getitem__(self, i):
        return self.x[i], int(self.labels[i])


def test_a_dataset_and_one_of_our_models_show_too(qtbot, digits):
    from latentexplorer.bundled import bundled_run
    from latentexplorer.checkpoint import load_run

    ours = load_run(bundled_run("digits-vae-2d")).model
    ex = le.show(ours, Pairs(*digits))
    qtbot.addWidget(ex.window)
    assert len(ex.codes()) == 300 and ex.session.opened.images.name == "Pairs"
    np.testing.assert_array_equal(ex.session.opened.images.labels, digits[1][:300])
    ex.close()
    gc.unfreeze()


def test_what_does_not_fit_is_refused_before_a_window_opens(qtbot, trained_user_models):
    module = trained_user_models["conv"].load()
    with pytest.raises(DataError, match=r"shape \(1, 28, 28\), but the model reads \(1, 8, 8\)"):
        le.show(le.wrap(module, image_shape=(1, 8, 8)), np.zeros((4, 28, 28), np.float32))
    with pytest.raises(TypeError, match="needs a torch model, got str"):
        le.show("my_vae.py", "digits")
    with pytest.raises(DataError, match="range from -2"):
        le.show(module, np.full((4, 8, 8), -2.0, np.float32))


def test_block_runs_until_the_window_closes(qtbot, trained_user_models, digits):
    from latentexplorer.gui import notebook

    QTimer.singleShot(300, lambda: notebook._open[-1].close())
    ex = le.show(trained_user_models["mlp"].load(), digits[0][:100], block=True)
    assert ex.closed
    gc.unfreeze()


KERNEL_SCRIPT = textwrap.dedent('''
    import json, sys
    from ipykernel.inprocess.manager import InProcessKernelManager

    manager = InProcessKernelManager()
    manager.start_kernel()
    shell = manager.kernel.shell
    before = shell.active_eventloop
    result = shell.run_cell(
        "import numpy as np, latentexplorer as le\\n"
        "from latentexplorer.bundled import bundled_run\\n"
        "from latentexplorer.checkpoint import load_run\\n"
        "ex = le.show(load_run(bundled_run()).model, 'digits')\\n"
        "ex.select(7)\\n"
        "shape = ex.codes().shape\\n")
    ex = shell.user_ns.get("ex")
    from PySide6.QtWidgets import QApplication
    QApplication.processEvents()
    print(json.dumps({"ok": result.success, "error": repr(result.error_in_exec), "before": before,
                      "after": shell.active_eventloop, "visible": bool(ex and ex.window.isVisible()),
                      "shape": list(shell.user_ns.get("shape", ())),
                      "selection": ex.selection().tolist() if ex else None}))
''')


def test_show_does_not_block_an_ipython_kernel_and_turns_on_its_qt_loop():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    done = subprocess.run([sys.executable, "-Xfrozen_modules=off", "-c", KERNEL_SCRIPT], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"], report["error"]
    assert report["before"] is None and report["after"] == "qt"
    assert report["visible"] and report["shape"] == [1797, 2] and report["selection"] == [7]


def test_the_selection_is_what_the_lasso_encloses(shown):
    ex, _, _ = shown
    xy = ex.session.view.xy
    lo, hi = np.percentile(xy, 20, axis=0), np.percentile(xy, 60, axis=0)
    square = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    ex.session.selection.set_lasso(square)
    inside = np.flatnonzero((xy[:, 0] > lo[0]) & (xy[:, 0] < hi[0]) & (xy[:, 1] > lo[1]) & (xy[:, 1] < hi[1]))
    assert len(inside) > 50
    np.testing.assert_array_equal(ex.selection(), inside)
    ex.session.selection.clear_lasso()
    assert ex.selection().tolist() == []


def test_show_leaves_the_notebooks_own_torch_threads_alone(tmp_path):
    """The window makes its GUI thread compute on one thread (the app's workers need the cores);
    in a notebook that thread is the user's, and their own torch work after le.show must keep
    the threads it had. In a fresh process: this test session's GUI thread is serial already."""
    script = tmp_path / "notebook.py"
    script.write_text(
        "import numpy as np, torch\n"
        "torch.set_num_threads(2)\n"
        "import latentexplorer as le\n"
        "from latentexplorer.bundled import bundled_run\n"
        "from latentexplorer.checkpoint import load_run\n"
        "ex = le.show(load_run(bundled_run()).model, np.random.default_rng(0).random((50, 8, 8)))\n"
        "print('threads', torch.get_num_threads())\n"
        "ex.close()\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "threads 2" in done.stdout
