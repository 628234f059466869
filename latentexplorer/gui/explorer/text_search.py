"""The caption search of an embedding model (CLIP): type what to look for, see the images
that match it best ringed on the scatter and listed with their scores.

Shown only while the open model has no decoder but embeds text (`encode_text`)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.errors import UserError
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets import images as im

TOP_MATCHES = 20


class TextSearchPanel(QWidget):
    """objectName `textSearch`; the query box `textQuery`, the ranked list `textMatches`."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("textSearch")
        self.session = session
        self.matches = np.zeros(0, np.int64)
        self.scores = np.zeros(0, np.float32)
        self.query = QLineEdit()
        self.query.setObjectName("textQuery")
        self.query.setPlaceholderText("find images matching… e.g. a small heart at the top left")
        self.query.setToolTip("The caption is embedded by the text encoder; the images whose embeddings "
                              "are most similar (cosine) are ringed on the scatter and listed")
        self.matrix_button = QPushButton("Similarity matrix…")
        self.matrix_button.setObjectName("similarityMatrixButton")
        self.matrix_button.setToolTip("Cosine similarities between 16 images and their captions")
        self.message = QLabel()
        self.message.setObjectName("textSearchMessage")
        self.message.setWordWrap(True)
        self.results = QListWidget()
        self.results.setObjectName("textMatches")
        self.results.setIconSize(QSize(32, 32))
        self.results.setFlow(QListWidget.Flow.LeftToRight)
        self.results.setWrapping(False)
        self.results.setFixedHeight(84)
        self.results.setToolTip("Best matches first; click one to select it")
        row = QHBoxLayout()
        row.addWidget(QLabel("Search"))
        row.addWidget(self.query, 1)
        row.addWidget(self.matrix_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.results)
        self.query.returnPressed.connect(self.search)
        self.results.itemClicked.connect(self._clicked)
        self.matrix_button.clicked.connect(self.show_matrix)
        session.opened.runChanged.connect(self._run_changed)
        self._run_changed()

    def _run_changed(self) -> None:
        s = self.session
        self.setVisible(s.opened.has_run and hasattr(s.opened.model, "encode_text"))
        self.results.clear()
        self.message.clear()
        self.matches = np.zeros(0, np.int64)

    def search(self, text: str | None = None) -> None:
        """Embed the caption, rank every item by cosine similarity, ring and list the best."""
        s = self.session
        text = self.query.text() if text is None else text
        if not s.opened.has_run or not hasattr(s.opened.model, "encode_text") or not text.strip():
            return
        try:
            query = s.opened.model.encode_text([text]).cpu().numpy()[0]
        except UserError as exc:
            self.message.setText(str(exc))
            self.message.setStyleSheet("color: #b00020")
            return
        scores = s.opened.mu @ query
        k = min(TOP_MATCHES, len(scores))
        order = np.argpartition(-scores, k - 1)[:k]
        self.matches = order[np.argsort(-scores[order], kind="stable")]
        self.scores = scores[self.matches]
        self.message.setStyleSheet("")
        self.message.setText(f"best {k} of {len(scores):,} items for “{text}” "
                             f"(cosine {self.scores[-1]:.2f} to {self.scores[0]:.2f})")
        self.results.clear()
        pictures = s.opened.images.float_batch(np.sort(self.matches))
        by_index = dict(zip(np.sort(self.matches).tolist(), pictures))
        for rank, (index, score) in enumerate(zip(self.matches.tolist(), self.scores)):
            item = QListWidgetItem(QIcon(im.image_pixmap(by_index[index], 32)), f"{rank + 1}\n{score:.2f}")
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setToolTip(f"item {index}: similarity {score:.3f}")
            self.results.addItem(item)
        s.selection.show_matches(self.matches)

    def _clicked(self, item: QListWidgetItem) -> None:
        self.session.selection.select(int(item.data(Qt.ItemDataRole.UserRole)))

    def show_matrix(self) -> None:
        from latentexplorer.gui.explorer.similarity_matrix import SimilarityMatrixDialog

        if not self.session.opened.has_run:
            return
        try:
            self.matrix_dialog = SimilarityMatrixDialog(self.session, self)
        except UserError as exc:
            self.session.report_error(str(exc))
            return
        self.matrix_dialog.open()
