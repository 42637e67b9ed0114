"""The derivatives of an uploaded image (Pillow): a thumbnail of at most
400 px and the copy clients read, at most 2048 px, both without EXIF
(GPS position, camera, date), XMP or text chunks. The original stays as it
was uploaded, for staff only.

The image is turned upright first (its EXIF orientation), since the copies
no longer carry that tag. Each copy is written from the pixels alone: only
PNG transparency and the ICC colour profile are kept.
"""
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

from fieldwork_common.errors import InvalidInput, PayloadTooLarge

THUMBNAIL_PX = 400
CLIENT_COPY_PX = 2048
# Decoded pixels cost memory (4 bytes each in RGBA): a 40-megapixel photo is
# about 160 MB while its copies are made. Phones take 12 to 48.
MAX_PIXELS = 40_000_000
KEPT_INFO = ("transparency", "icc_profile")
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class Copy:
    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Derivatives:
    thumbnail: Copy
    client: Copy


def derive(source):
    """The thumbnail and the client copy of the image in `source` (a
    readable, seekable file). 400 when the bytes do not decode, 413 when
    the image has more than MAX_PIXELS."""
    try:
        with Image.open(source) as image:
            if image.format not in FORMATS:
                raise InvalidInput("This image cannot be decoded.", {"format": image.format})
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PayloadTooLarge(f"An image may have at most {MAX_PIXELS} pixels.",
                                      {"max_pixels": MAX_PIXELS, "width": width, "height": height})
            fmt = image.format
            if fmt == "JPEG":
                # decode at the smallest scale (1/2, 1/4, 1/8) that still covers the
                # client copy: a 24-megapixel photo is decoded as 6 megapixels
                image.draft(None, _fitted(image.size, CLIENT_COPY_PX))
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            client = _copy(image, CLIENT_COPY_PX, fmt)
            # the thumbnail from the client copy: the same pixels, 10 times fewer to read
            thumbnail = _copy(client[1], THUMBNAIL_PX, fmt)
            return Derivatives(thumbnail=thumbnail[0], client=client[0])
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInput("This image cannot be decoded.", {"reason": str(exc)[:200]}) from None


def _fitted(size, px):
    """`size` shrunk to fit in a px × px box, proportions kept (never enlarged)."""
    width, height = size
    ratio = min(px / width, px / height, 1)
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def _copy(image, px, fmt):
    """(the encoded copy, its pixels) of `image` fitted in px × px."""
    size = _fitted(image.size, px)
    # resize makes only the small image; the info of the source is not carried
    copy = image.resize(size, Image.Resampling.LANCZOS) if size != image.size else image.copy()
    copy.info = {key: value for key, value in image.info.items() if key in KEPT_INFO}
    options = {"icc_profile": copy.info["icc_profile"]} if "icc_profile" in copy.info else {}
    if fmt == "JPEG":
        if copy.mode not in ("RGB", "L"):
            copy = copy.convert("RGB")
            options.pop("icc_profile", None)  # a CMYK profile does not describe RGB pixels
        options.update(quality=85, optimize=True)
    elif fmt == "PNG":
        options.update(optimize=True)
    else:
        options.update(quality=85)
    out = BytesIO()
    copy.save(out, fmt, **options)
    return Copy(out.getvalue(), FORMATS[fmt], *copy.size), copy
