"""Avatars: an uploaded image becomes one this node made, or is refused.

Whatever a member uploads is only read: Pillow opens it (PNG, JPEG, GIF or WebP, nothing
else), its dimensions are checked before any pixel is decoded (a small file can unpack
into gigabytes), and a new WebP image is drawn from its pixels alone, turned upright and
at most SIZE x SIZE. The bytes stored and served are that new image: no metadata (place,
camera) of the upload survives, nor anything hidden after or inside it (an HTML or
script polyglot), so a file we serve can never be anything but a picture.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from chapterhouse.reasons import Reason, reason

MAX_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4000  # pixels, either way, of the upload
SIZE = 400  # pixels, either way, of the avatar we make
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
MEDIA_TYPE = "image/webp"
# The name of every avatar this node makes: the hash of its bytes.
NAME = re.compile(r"[0-9a-f]{64}\.webp")

# Pillow refuses outright (DecompressionBombError) images over twice this; the explicit
# size check below refuses anything over MAX_SIDE before that.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE


class AvatarError(ValueError):
    """Why an upload cannot be an avatar, in words for the member."""


@dataclass(frozen=True)
class Avatar:
    name: str  # <sha256>.webp
    data: bytes


def too_many_bytes() -> Reason:
    return reason("avatar.too_large", "The image is larger than %(mb)d MB.",
                  mb=MAX_BYTES // (1024 * 1024))


def _damaged() -> Reason:
    return reason("avatar.damaged", "This image is damaged and cannot be read.")


def _opened(data: bytes) -> Image.Image:
    too_large = AvatarError(reason("avatar.too_many_pixels",
                                   "The image has too many pixels; at most %(side)d x "
                                   "%(side)d is accepted.", side=MAX_SIDE))
    try:
        with warnings.catch_warnings():
            # Over MAX_IMAGE_PIXELS Pillow warns; the check below refuses those anyway.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise AvatarError(reason("avatar.format",
                                 "This file is not a PNG, JPEG, GIF or WebP image.")) from None
    except Image.DecompressionBombError:
        raise too_large from None
    except (OSError, SyntaxError, ValueError):
        raise AvatarError(_damaged()) from None
    width, height = image.size
    if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE:
        raise too_large
    return image


def make_avatar(data: bytes) -> Avatar:
    """The avatar made from an upload's bytes; AvatarError when they are not an image we
    take. CPU-bound: run it in a thread."""
    if len(data) > MAX_BYTES:
        raise AvatarError(too_many_bytes())
    if not data:
        raise AvatarError(reason("avatar.empty", "The file is empty."))
    try:
        _opened(data).verify()  # the whole file's structure, before decoding it
        image = _opened(data)  # verify() leaves the image unusable: open it again
        image.seek(0)  # an animation's first frame
        image.load()
        upright = ImageOps.exif_transpose(image)
    except AvatarError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        raise AvatarError(_damaged()) from None
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info)
    try:
        pixels = upright.convert("RGBA" if has_alpha else "RGB")
    except (OSError, ValueError):
        raise AvatarError(reason("avatar.colours",
                                 "This image's colours cannot be read.")) from None
    pixels.thumbnail((SIZE, SIZE), Image.Resampling.LANCZOS)
    # A new image holding only the pixels: nothing of the upload's metadata comes along.
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    clean.save(out, format="WEBP", quality=85, method=4)
    made = out.getvalue()
    return Avatar(name=hashlib.sha256(made).hexdigest() + ".webp", data=made)


def save(directory: Path, avatar: Avatar) -> None:
    """Write the avatar into `directory` all at once: a reader sees the whole file or none."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / avatar.name
    if target.exists():  # the same image already (names are hashes of the bytes)
        return
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(avatar.data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove(directory: Path, name: str) -> None:
    if NAME.fullmatch(name):
        (directory / name).unlink(missing_ok=True)
