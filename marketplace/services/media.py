"""Items' media: the images, recordings and texts a requester uploads beside the items that name them.

A requester sends files (multipart, or one zip of them) to a job that still accepts items. Each file is checked by
its content, not its name (`filetype` reads the magic bytes; Pillow opens images, refuses decompression bombs and
measures them), stored once per content under its SHA-256 in the media storage (`STORAGES["media"]`: the local
filesystem by default, any django-storages backend otherwise), and recorded under its name for the job. The bytes
are stored before the records' transaction, so no storage I/O (S3: the network) holds the job's lock; the records
are one transaction: one bad file and no record is kept (bytes stored without a record are content-addressed and
harmless: the same content uploaded again reuses them).

Items refer to files by name in their media fields (item schema types `image`, `audio`, `text_file`); the ingest
checks that each named file exists and is of that kind (`selectors.media_kinds`).
"""

import hashlib
import io
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

import filetype
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from PIL import Image

from marketplace.errors import MediaRejected, UploadNotAccepted
from marketplace.models import Job, MediaFile, MediaKind
from marketplace.services.uploads import ACCEPTS_UPLOADS
from qualification.storable import NotStorable, check

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
AUDIO_TYPES = frozenset({"audio/mpeg", "audio/x-wav", "audio/ogg", "audio/x-flac", "audio/mp4", "audio/webm"})
TEXT_SUFFIXES = frozenset({".txt", ".text", ".md"})
MAX_NAME_CHARS = 255
MAX_ERRORS = 100


@dataclass(frozen=True)
class _File:
    name: str
    data: bytes


def media_upload(*, job: Job, files: Iterable[UploadedFile]) -> list[MediaFile]:
    """Check, store and record `files` for `job` (a zip stands for the files inside it). Raises `MediaRejected`
    listing every bad file, keeping no record; a name the job already has is refused unless it is the same content
    (then it is a retry, and the existing record is returned)."""
    if job.status not in ACCEPTS_UPLOADS["items"]:
        raise UploadNotAccepted(f"A {job.status} job accepts no media (only while it accepts items).")
    records, names = [], set()
    errors: list[dict] = []
    for file in _unpacked(files, errors):
        problem = _name_problem(file.name) or ("appears twice" if file.name in names else None)
        record = None if problem else _described(job, file, errors)
        if problem:
            errors.append({"file": file.name[:MAX_NAME_CHARS], "field": "files", "message": f"The name {problem}."})
        names.add(file.name)
        if record is not None:
            records.append((record, file.data))
        if len(errors) >= MAX_ERRORS:
            break
    if not records and not errors:
        errors.append({"file": None, "field": "files", "message": "No file was sent."})
    if errors:
        raise MediaRejected(errors=errors)
    _store(records)  # before the transaction: storage may be remote (S3), and stored content is harmless alone
    return _recorded(job, records)


def _store(records: list[tuple[MediaFile, bytes]]) -> None:
    storage = storages["media"]
    for record, data in records:
        if not storage.exists(record.storage_name):  # content-addressed: the same bytes are stored once
            storage.save(record.storage_name, ContentFile(data))


@transaction.atomic(durable=True)
def _recorded(job: Job, records: list[tuple[MediaFile, bytes]]) -> list[MediaFile]:
    job = Job.objects.select_for_update().get(pk=job.pk)  # one upload at a time per job, and the status re-checked
    if job.status not in ACCEPTS_UPLOADS["items"]:
        raise UploadNotAccepted(f"A {job.status} job accepts no media (only while it accepts items).")
    existing = {m.name: m for m in MediaFile.objects.filter(job=job, name__in=[r.name for r, _ in records])}
    clashes = [r.name for r, _ in records if r.name in existing and existing[r.name].sha256 != r.sha256]
    if clashes:
        message = "The job already has a different file by this name."
        raise MediaRejected(errors=[{"file": name, "field": "files", "message": message} for name in clashes])
    saved = []
    for record, _ in records:
        if record.name in existing:
            saved.append(existing[record.name])
            continue
        record.full_clean(validate_unique=False)
        record.save()
        saved.append(record)
    return saved


def _unpacked(files: Iterable[UploadedFile], errors: list[dict]) -> Iterator[_File]:
    for upload in files:
        name = upload.name or ""
        if upload.size is not None and upload.size > settings.MEDIA_ZIP_MAX_BYTES:
            errors.append({"file": name[:MAX_NAME_CHARS], "field": "files", "message": "The file is too large."})
            continue
        if name.lower().endswith(".zip"):
            yield from _zip_members(upload, errors)
        elif upload.size is not None and upload.size > settings.MEDIA_MAX_BYTES:
            errors.append({"file": name[:MAX_NAME_CHARS], "field": "files", "message": _too_large()})
        else:
            yield _File(name=name, data=upload.read())


def _zip_members(upload: UploadedFile, errors: list[dict]) -> Iterator[_File]:
    """The zip's files, each under its path in the zip; what a zip bomb or a broken zip would cost is refused
    before anything is unpacked (counts and sizes from the central directory, reads capped at the declared size)."""
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError):
        errors.append({"file": upload.name, "field": "files", "message": "The file is not a readable zip."})
        return
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        total = sum(info.file_size for info in members)
        if len(members) > settings.MEDIA_ZIP_MAX_FILES or total > settings.MEDIA_ZIP_MAX_BYTES:
            limits = f"{settings.MEDIA_ZIP_MAX_FILES} files or more than {settings.MEDIA_ZIP_MAX_BYTES} bytes unpacked"
            errors.append({"file": upload.name, "field": "files", "message": f"The zip holds more than {limits}."})
            return
        for info in members:
            if info.file_size > settings.MEDIA_MAX_BYTES:
                errors.append({"file": info.filename[:MAX_NAME_CHARS], "field": "files", "message": _too_large()})
                continue
            try:
                with archive.open(info) as member:
                    data = member.read(settings.MEDIA_MAX_BYTES + 1)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError):  # corrupt, encrypted
                message = "The zip entry cannot be read (corrupt, encrypted or an unknown compression)."
                errors.append({"file": info.filename[:MAX_NAME_CHARS], "field": "files", "message": message})
                continue
            yield _File(name=info.filename, data=data)


def _too_large() -> str:
    return f"The file is larger than {settings.MEDIA_MAX_BYTES} bytes."


def _name_problem(name: str) -> str | None:
    path = PurePosixPath(name)
    if not name or len(name) > MAX_NAME_CHARS:
        return f"must have 1 to {MAX_NAME_CHARS} characters"
    try:
        check(name)
    except NotStorable:
        return "holds characters a file name cannot"
    if any(ord(c) < 32 for c in name) or "\\" in name:
        return "holds characters a file name cannot"
    if path.is_absolute() or ".." in path.parts or name != str(path):
        return "must be a plain relative path (no leading /, no .., no empty or . parts)"
    return None


def _described(job: Job, file: _File, errors: list[dict]) -> MediaFile | None:
    """The file's record (not saved), or None with its problem in `errors`."""
    if len(file.data) > settings.MEDIA_MAX_BYTES:
        errors.append({"file": file.name, "field": "files", "message": _too_large()})
        return None
    kind, content_type, size = _kind(file)
    if kind is None:
        message = "Not a supported image (JPEG, PNG, GIF, WebP), audio (MP3, WAV, OGG, FLAC, M4A, WebM) or UTF-8 text."
        errors.append({"file": file.name, "field": "files", "message": message})
        return None
    if kind == MediaKind.IMAGE and size is None:
        errors.append({"file": file.name, "field": "files", "message": "The image cannot be read (corrupt or huge)."})
        return None
    width, height = size or (None, None)
    characters = len(file.data.decode("utf-8")) if kind == MediaKind.TEXT else None
    return MediaFile(
        job=job,
        name=file.name,
        kind=kind,
        content_type=content_type,
        size=len(file.data),
        sha256=hashlib.sha256(file.data).hexdigest(),
        width=width,
        height=height,
        characters=characters,
    )


def _kind(file: _File) -> tuple[str | None, str, tuple[int, int] | None]:
    guess = filetype.guess(file.data)
    mime = guess.mime if guess else ""
    if mime in IMAGE_TYPES:
        return MediaKind.IMAGE, mime, _image_size(file.data)
    if mime in AUDIO_TYPES:
        return MediaKind.AUDIO, mime, None
    if guess is None and PurePosixPath(file.name).suffix.lower() in TEXT_SUFFIXES and _is_text(file.data):
        return MediaKind.TEXT, "text/plain; charset=utf-8", None
    return None, mime, None


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a well-formed image, or None (corrupt, or more pixels than Pillow's bomb limit)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


def media_open(*, media: MediaFile) -> File:
    """The file's bytes, from the media storage."""
    return storages["media"].open(media.storage_name, "rb")
