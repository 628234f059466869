"""MNIST-family IDX files read by us, never downloaded, with messages that say what is wrong.

torchvision's reader fails on a damaged file with whatever numpy or struct raise, and
insists on all four files unpacked in one place. Likelihood figures are only comparable on
the exact standard files, so a missing, partial or foreign file is refused by name: which
file, where it was looked for, and what its header or size says. A file is read as gzip
when its bytes say so (whatever its name), else as it is.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from latentexplorer.errors import DataError

IMAGES_MAGIC = 2051
"""0x00000803: unsigned bytes (0x08) in 3 dimensions (count, rows, columns)."""
LABELS_MAGIC = 2049
"""0x00000801: unsigned bytes in 1 dimension (count)."""
SIDE = 28
"""Rows and columns of every image of MNIST, Fashion-MNIST and KMNIST."""
SPLIT_PREFIX = {"train": "train", "test": "t10k"}
STANDARD_SIZES = {"train": 60_000, "test": 10_000}
"""How many images each split has in the published files (all three datasets)."""
_GZIP_MAGIC = b"\x1f\x8b"


class FilesNotFound(DataError):
    """Neither file of a split anywhere it was looked for (a partial set is a plain DataError)."""


def split_files(split: str) -> tuple[str, str]:
    """The standard names of a split's (images, labels) files, unpacked."""
    prefix = SPLIT_PREFIX[split]
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def candidate_folders(root: Path, class_folder: str) -> tuple[Path, ...]:
    """Where the files may be: torchvision's `<root>/<Class>/raw` first, then `root` pointing at
    the class folder or at the files' own folder."""
    return (root / class_folder / "raw", root / "raw", root)


def _present(folder: Path, name: str) -> Path | None:
    plain, packed = folder / name, folder / f"{name}.gz"
    return plain if plain.is_file() else packed if packed.is_file() else None


def find_split(name: str, root: Path, class_folder: str, split: str) -> tuple[Path, Path]:
    """The (images, labels) files of `split`, from the first folder that holds both.

    A folder holding only one of them is named with the one it lacks: half a download is the
    usual way to get here, and "not found" alone would send the user to the wrong folder."""
    wanted = split_files(split)
    partial: tuple[Path, str, str] | None = None
    for folder in candidate_folders(root, class_folder):
        found = [_present(folder, f) for f in wanted]
        if found[0] is not None and found[1] is not None:
            return found[0], found[1]
        if partial is None and (found[0] or found[1]) is not None:
            have, lack = (wanted[0], wanted[1]) if found[0] is not None else (wanted[1], wanted[0])
            partial = (folder, have, lack)
    if partial is not None:
        folder, have, lack = partial
        raise DataError(
            f"{name} {split} split is incomplete: {folder} has {have} but not {lack} (or {lack}.gz); "
            "put the missing file there, nothing is downloaded"
        )
    raw = candidate_folders(root, class_folder)[0]
    raise FilesNotFound(
        f"{name} not found: expected {raw / wanted[0]} and {raw / wanted[1]} "
        "(each may also end in .gz); put the files there, nothing is downloaded"
    )


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with gzip's magic bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is a damaged or incomplete gzip file ({exc}); download it again") from exc


def parse_idx(data: bytes, path: Path, labels: bool) -> np.ndarray:
    """The array an IDX file of unsigned bytes holds, its header checked against `labels`
    (N labels) or images (N×28×28) and its length against the header."""
    kind, magic, ndim = ("labels", LABELS_MAGIC, 1) if labels else ("images", IMAGES_MAGIC, 3)
    if len(data) < 4:
        raise DataError(f"{path} is not an IDX file: it has only {len(data)} bytes")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        other = {IMAGES_MAGIC: "an images file", LABELS_MAGIC: "a labels file"}.get(found)
        hint = f" (it is {other}: are the file names swapped?)" if other else ""
        raise DataError(
            f"{path} is not an IDX {kind} file: its magic number is {found} (0x{found:08x}), "
            f"expected {magic} (0x{magic:08x}){hint}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated inside its header ({len(data)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    if not labels and dims[1:] != (SIDE, SIDE):
        raise DataError(
            f"{path} holds images of {dims[1]}×{dims[2]} pixels; MNIST, Fashion-MNIST and KMNIST "
            f"images are {SIDE}×{SIDE}"
        )
    count = int(np.prod(dims))
    size = len(data) - header
    shape = "×".join(f"{d:,}" for d in dims)
    if size < count:
        raise DataError(
            f"{path} is truncated: its header says {shape} {kind} ({count:,} bytes), the file holds "
            f"{size:,}; download it again"
        )
    if size > count:
        raise DataError(
            f"{path} has {size - count:,} bytes more than its header ({shape} {kind}) says: it is "
            "damaged or not an MNIST-family file"
        )
    # bytearray makes the array writable, which torch.from_numpy wants.
    return np.frombuffer(bytearray(data[header:]), dtype=np.uint8).reshape(dims)


def read_idx(path: Path, labels: bool) -> np.ndarray:
    """An IDX images (N×28×28) or labels (N) file, checked; see `parse_idx`."""
    return parse_idx(read_bytes(path), path, labels)


def read_split(name: str, root: Path, class_folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images N×28×28 uint8, labels N int64) of one split, their counts checked against each
    other and the labels against the 10 classes."""
    images_path, labels_path = find_split(name, root, class_folder, split)
    images = read_idx(images_path, labels=False)
    labels = read_idx(labels_path, labels=True).astype(np.int64)
    if len(images) != len(labels):
        raise DataError(
            f"{name} {split} split: {images_path.name} has {len(images):,} images but "
            f"{labels_path.name} has {len(labels):,} labels; are they from the same download?"
        )
    if len(labels) and labels.max() > 9:
        raise DataError(f"{labels_path} has labels up to {labels.max()}; the MNIST family has 10 classes")
    return images, labels
