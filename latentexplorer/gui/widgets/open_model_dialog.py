"""File ▸ Open model…: the fields of `latentexplorer open` in a dialog, the models installed
plugins register, and the models opened before.

The dialog opens the model itself when the user presses Open, so every error (an import that
fails, weights of another architecture, data of the wrong shape) is said in the dialog, with
the fields still filled in, and the model already open in the window stays open."""

from __future__ import annotations

import json

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.data import DATASETS
from latentexplorer.errors import UserError
from latentexplorer.models.wrapped import INPUTS, LIKELIHOODS
from latentexplorer.opening import ModelSpec, open_model, parse_image_shape
from latentexplorer.plugins import installed_models

RECENT_KEY = "recentModels"
MAX_RECENT_MODELS = 8
NO_PLUGIN = "— a class and its weights —"
DEFAULT_DATA = "default (the plugin's data, else digits)"


def recent_models(settings: QSettings) -> list[ModelSpec]:
    """The models opened before, newest first (entries that no longer parse are skipped)."""
    value = settings.value(RECENT_KEY, [])
    entries = [value] if isinstance(value, str) else list(value or [])
    specs = []
    for entry in entries:
        try:
            specs.append(ModelSpec.from_json(str(entry)))
        except UserError:
            continue
    return specs


def remember_model(settings: QSettings, spec: ModelSpec) -> None:
    entries = [spec.to_json()] + [s.to_json() for s in recent_models(settings) if s != spec]
    settings.setValue(RECENT_KEY, entries[:MAX_RECENT_MODELS])


class OpenModelDialog(QDialog):
    """Fields → ModelSpec → (Run, ImageSet) in `self.opened` once Open succeeded."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("openModelDialog")
        self.setWindowTitle("Open your own model")
        self.settings = settings
        self.opened = None
        self.spec: ModelSpec | None = None
        self.recent = QComboBox(objectName="recentModels")
        self.recent_specs = recent_models(settings)
        self.recent.addItem("—")
        for spec in self.recent_specs:
            self.recent.addItem(spec.label)
        self.recent.activated.connect(self._recent_chosen)
        self.plugin = QComboBox(objectName="modelPlugin")
        self.plugin.addItem(NO_PLUGIN, None)
        for plugin in installed_models():
            self.plugin.addItem(plugin.label, plugin.name)
        self.plugin.currentIndexChanged.connect(self._plugin_changed)
        self.model = QLineEdit(objectName="modelClass", placeholderText="VAE, or package.module:VAE")
        self.model_file = QLineEdit(objectName="modelFile", placeholderText="my_vae.py (blank: import the module)")
        self.init = QLineEdit(objectName="modelInit", placeholderText='{"latent": 20} (blank: no arguments)')
        self.weights = QLineEdit(objectName="modelWeights", placeholderText="vae.pt or vae.safetensors")
        self.data = QComboBox(objectName="modelData")
        self.data.addItem(DEFAULT_DATA, None)  # a plugin's own data, else the digits
        for name in DATASETS:
            self.data.addItem(name, name)
        self.data_root = QLineEdit(objectName="modelDataRoot", placeholderText="blank: the bundled or generated data")
        self.size = QSpinBox(objectName="modelDataSize", minimum=0, maximum=512, specialValueText="default")
        self.items = QSpinBox(objectName="modelDataItems", minimum=0, maximum=10_000_000, singleStep=1000,
                              specialValueText="all")
        self.image_shape = QLineEdit(objectName="modelImageShape", placeholderText="C,H,W (blank: the data's)")
        self.input = QComboBox(objectName="modelInput")
        self.input.addItems(INPUTS)
        self.likelihood = QComboBox(objectName="modelLikelihood")
        self.likelihood.addItems(LIKELIHOODS)
        self.latent_dim = QSpinBox(objectName="modelLatentDim", minimum=0, maximum=4096, specialValueText="infer")
        self.error = QLabel(objectName="openModelError", wordWrap=True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()

        form = QFormLayout()
        if self.recent_specs:
            form.addRow("Recent:", self.recent)
        if self.plugin.count() > 1:
            form.addRow("Installed model:", self.plugin)
        form.addRow("Class:", self.model)
        form.addRow("Python file:", self._with_browse(self.model_file, "Python files (*.py)"))
        form.addRow("Constructor arguments:", self.init)
        form.addRow("Weights (state_dict):", self._with_browse(self.weights, "Weights (*.safetensors *.pt *.pth)"))
        form.addRow("Data:", self.data)
        form.addRow("Data root:", self._with_browse(self.data_root, "Arrays (*.npz *.npy);;All files (*)"))
        form.addRow("Image size (sprites, folders):", self.size)
        form.addRow("Items:", self.items)
        form.addRow("Image shape the model reads:", self.image_shape)
        form.addRow("Input layout:", self.input)
        form.addRow("Likelihood:", self.likelihood)
        form.addRow("Latent dimensions (encode gives 2·d):", self.latent_dim)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        self.open_button = buttons.button(QDialogButtonBox.StandardButton.Open)
        self.open_button.setObjectName("openModelButton")
        buttons.accepted.connect(self.try_open)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("A PyTorch module with encode(x) → (μ, log σ²) and decode(z) → logits "
                                "or means, and its state_dict; see README, “Explore your own VAE”.",
                                wordWrap=True))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(620, self.sizeHint().height())
        if self.recent_specs:
            self.fill(self.recent_specs[0])

    def _with_browse(self, edit: QLineEdit, filters: str) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(edit, filters))
        layout.addWidget(browse)
        return row

    def _browse(self, edit: QLineEdit, filters: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file", edit.text(), filters)
        if path:
            edit.setText(path)

    # --- fields ↔ spec ---------------------------------------------------------------------------

    def fill(self, spec: ModelSpec) -> None:
        """Show a remembered spec in the fields."""
        index = self.plugin.findData(spec.plugin) if spec.plugin else 0
        self.plugin.setCurrentIndex(max(index, 0))
        self.model.setText(spec.model)
        self.model_file.setText(spec.model_file or "")
        self.init.setText(json.dumps(spec.init) if spec.init else "")
        self.weights.setText(spec.weights)
        self.data.setCurrentIndex(max(0, self.data.findData(spec.data)) if spec.data else 0)
        self.data_root.setText(spec.data_root or "")
        self.size.setValue(spec.size or 0)
        self.items.setValue(spec.items or 0)
        self.image_shape.setText(",".join(map(str, spec.image_shape)) if spec.image_shape else "")
        self.input.setCurrentText(spec.input)
        self.likelihood.setCurrentText(spec.likelihood)
        self.latent_dim.setValue(spec.latent_dim or 0)

    def read_spec(self) -> ModelSpec:
        """The fields as a ModelSpec (UserError on a field that does not parse)."""
        text = self.init.text().strip()
        try:
            init = json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            raise UserError(f"the constructor arguments are not JSON: {exc}") from exc
        if not isinstance(init, dict):
            raise UserError('the constructor arguments must be a JSON object, e.g. {"latent": 20}')
        shape = self.image_shape.text().strip()
        return ModelSpec(
            model=self.model.text().strip(), weights=self.weights.text().strip(),
            model_file=self.model_file.text().strip() or None, init=init,
            plugin=self.plugin.currentData(), data=self.data.currentData(),
            data_root=self.data_root.text().strip() or None, size=self.size.value() or None,
            items=self.items.value() or None, image_shape=parse_image_shape(shape) if shape else None,
            input=self.input.currentText(), likelihood=self.likelihood.currentText(),
            latent_dim=self.latent_dim.value() or None,
        )

    def _recent_chosen(self, index: int) -> None:
        if index > 0:
            self.fill(self.recent_specs[index - 1])

    def _plugin_changed(self) -> None:
        own_class = self.plugin.currentData() is None
        for field in (self.model, self.model_file, self.init, self.weights):
            field.setEnabled(own_class)

    # --- opening -----------------------------------------------------------------------------

    def try_open(self) -> bool:
        """Open the model the fields describe; on any error say it here and stay open."""
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            spec = self.read_spec()
            self.opened = open_model(spec)
        except UserError as exc:
            self.show_error(str(exc))
            return False
        except Exception as exc:  # the user's own code may raise anything
            self.show_error(f"{type(exc).__name__}: {exc}")
            return False
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.spec = spec
        remember_model(self.settings, spec)
        self.accept()
        return True

    def show_error(self, message: str) -> None:
        self.opened = None
        self.error.setText(message)
        self.error.show()
