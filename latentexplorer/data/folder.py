"""Any folder of images: one subfolder per class (ImageFolder-style) or a flat folder.

This is how users bring their own pictures. Every image is resized to one square
size so a batch is a plain array; class subfolders become labels so the latent
scatter can be coloured by them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentexplorer.data.base import ImageSet
from latentexplorer.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def load_folder(path: str | Path, size: int = 32, grayscale: bool = True) -> ImageSet:
    """Images under `path`, resized to size×size, 1 channel (grayscale) or 3 (RGB).

    If any subfolder holds images, each such subfolder is a class (searched
    recursively, like torchvision's ImageFolder) and loose top-level files are
    ignored; otherwise the images directly in `path` are loaded without labels.
    """
    folder = Path(path).expanduser()
    size = int(size)
    if size < 4:
        raise DataError(f"image size must be at least 4, got {size}")
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist or is not a folder")

    classes: list[str] = []
    files: list[Path] = []
    labels: list[int] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = sorted(p for p in sub.rglob("*") if _is_image(p))
        if found:
            labels += [len(classes)] * len(found)
            classes.append(sub.name)
            files += found
    if not classes:
        files = sorted(p for p in folder.iterdir() if _is_image(p))
    if not files:
        raise DataError(
            f"no images in {folder} (looked for {', '.join(IMAGE_EXTENSIONS)} files "
            "directly inside it or in one subfolder per class)"
        )

    channels = 1 if grayscale else 3
    images = np.empty((len(files), channels, size, size), dtype=np.uint8)
    for i, file in enumerate(files):
        pixels = _read_image(file, size, grayscale)
        images[i] = pixels[None] if grayscale else pixels.transpose(2, 0, 1)
    return ImageSet(
        images=images,
        name=folder.name or str(folder),
        labels=np.asarray(labels, dtype=np.int64) if classes else None,
        class_names=tuple(classes),
        meta={"root": str(folder), "files": len(files)},
    )


def _is_image(path: Path) -> bool:
    return (
        path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".") and path.is_file()
    )


def _read_image(file: Path, size: int, grayscale: bool) -> np.ndarray:
    """One image as uint8 H×W (grayscale) or H×W×3; transparency is laid over black.

    Black, because 0 is the background every other source uses.
    """
    from PIL import Image

    try:
        with Image.open(file) as image:
            image.load()  # first frame of an animated GIF
            if image.mode in ("I", "I;16", "I;16B", "I;16L"):
                # 16-bit greyscale: convert("L") would clip at 255 rather than rescale.
                deep = np.asarray(image, dtype=np.float64) * (255.0 / 65535.0)
                image = Image.fromarray(np.clip(np.rint(deep), 0, 255).astype(np.uint8))
            elif image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            ):
                rgba = image.convert("RGBA")
                image = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
                image.alpha_composite(rgba)
            image = image.convert("L" if grayscale else "RGB")
            image = image.resize((size, size), Image.Resampling.LANCZOS)
            return np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read image {file}: {exc}") from exc
