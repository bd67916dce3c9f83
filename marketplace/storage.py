"""Where files live: a ``Storage`` protocol with a local folder and an S3 implementation.

Keys are relative, slash-separated paths chosen by the application (never by the
uploader). Writes stream from a file object in chunks, so memory does not grow with
the file's size; a failed write leaves nothing behind under the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol
from urllib.parse import urlencode

CHUNK = 1024 * 1024


class StorageError(RuntimeError):
    """A file could not be stored or read; the operation can be retried."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


def safe_key(*parts: str) -> str:
    """Join parts into a key, refusing anything that could climb out of the store."""
    path = PurePosixPath(*parts)
    if (path.is_absolute() or not path.parts or any(p in ("..", "") for p in path.parts)
            or "\\" in str(path)):
        raise ValueError(f"unsafe storage key: {'/'.join(parts)!r}")
    return str(path)


class Storage(Protocol):
    def save(self, key: str, stream: BinaryIO, content_type: str | None = None) -> StoredObject: ...
    def open(self, key: str) -> BinaryIO: ...
    def iter_bytes(self, key: str) -> Iterator[bytes]: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def size(self, key: str) -> int: ...
    def url(self, key: str, expires_in: int, filename: str | None = None) -> str: ...
    def local_path(self, key: str) -> Path | None: ...


class LocalStorage:
    """Files under a folder; download links are signed by the app and served by it."""

    def __init__(self, root: str | Path, secret: str, base_url: str = ""):
        self.root = Path(root)
        self.secret = secret.encode()
        self.base_url = base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        return self.root / safe_key(key)

    def save(self, key, stream, content_type=None):
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StorageError(f"could not write {key}: {exc.strerror or exc}") from exc
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return StoredObject(key=key, size=size, sha256=digest.hexdigest())

    def open(self, key):
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise StorageError(f"no such file: {key}") from exc

    def iter_bytes(self, key):
        with self.open(key) as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def exists(self, key):
        return self._path(key).is_file()

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)

    def size(self, key):
        return self._path(key).stat().st_size

    def local_path(self, key):
        return self._path(key)

    def sign(self, key: str, expires: int) -> str:
        return hmac.new(self.secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def verify(self, key: str, expires: int, signature: str, now: float | None = None) -> bool:
        if (now or time.time()) > expires:
            return False
        return hmac.compare_digest(self.sign(key, expires), signature)

    def url(self, key, expires_in, filename=None):
        expires = int(time.time()) + expires_in
        query = {"key": key, "expires": expires, "sig": self.sign(key, expires)}
        if filename:
            query["filename"] = filename
        return f"{self.base_url}/files?{urlencode(query)}"


class S3Storage:
    """AWS S3 or any S3-compatible store (MinIO, OSS, COS) through boto3."""

    def __init__(self, bucket: str, *, endpoint_url=None, region="us-east-1",
                 access_key_id=None, secret_access_key=None, chunk_mb: int = 16, client=None):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=Config(signature_version="s3v4", retries={"max_attempts": 3}),
        )
        # upload_fileobj switches to multipart above the threshold and reads one
        # chunk per part, so memory stays bounded whatever the file size.
        self.transfer = TransferConfig(multipart_threshold=chunk_mb * 1024 * 1024,
                                       multipart_chunksize=chunk_mb * 1024 * 1024,
                                       max_concurrency=2)
        # Parts read ahead of the network; boto3 does not take it as an argument.
        self.transfer.max_in_memory_upload_chunks = 2

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def save(self, key, stream, content_type=None):
        from botocore.exceptions import BotoCoreError, ClientError

        key = safe_key(key)
        hashing = _HashingReader(stream)
        extra = {"ContentType": content_type} if content_type else {}
        try:
            self.client.upload_fileobj(hashing, self.bucket, key, ExtraArgs=extra,
                                       Config=self.transfer)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not upload {key}: {exc}") from exc
        return StoredObject(key=key, size=hashing.size, sha256=hashing.digest.hexdigest())

    def open(self, key):
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            raise StorageError(f"no such file: {key}") from exc

    def iter_bytes(self, key):
        body = self.open(key)
        yield from body.iter_chunks(CHUNK)

    def exists(self, key):
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError:
            return False

    def delete(self, key):
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def size(self, key):
        return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]

    def local_path(self, key):
        return None

    def url(self, key, expires_in, filename=None):
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self.client.generate_presigned_url("get_object", Params=params,
                                                  ExpiresIn=expires_in)


class _HashingReader:
    """Wraps a stream so the upload computes SHA-256 and size as it reads."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.stream.read(n)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


def fetch_to_path(storage: Storage, key: str, dest: Path) -> Path:
    """A local file for tools such as ffmpeg: the file itself, or a streamed copy."""
    local = storage.local_path(key)
    if local is not None:
        return local
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("wb") as out:
        for chunk in storage.iter_bytes(key):
            out.write(chunk)
    return dest


def build_storage(config) -> Storage:
    if config["PDX_STORAGE"] == "s3":
        return S3Storage(
            config["PDX_S3_BUCKET"], endpoint_url=config["PDX_S3_ENDPOINT_URL"],
            region=config["PDX_S3_REGION"], access_key_id=config["PDX_S3_ACCESS_KEY_ID"],
            secret_access_key=config["PDX_S3_SECRET_ACCESS_KEY"],
            chunk_mb=int(config["PDX_S3_MULTIPART_CHUNK_MB"]),
        )
    return LocalStorage(config["PDX_MEDIA_ROOT"], config["SECRET_KEY"], "")


def get_storage() -> Storage:
    from flask import current_app

    return current_app.extensions["pdx_storage"]
