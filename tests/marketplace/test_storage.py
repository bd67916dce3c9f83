"""LocalStorage on a temp folder and S3Storage against moto's S3 server on loopback."""

from __future__ import annotations

import hashlib
import io
import time
import tracemalloc
import urllib.request

import pytest

from marketplace.storage import LocalStorage, S3Storage, StorageError, safe_key


class PatternStream(io.RawIOBase):
    """``size`` bytes generated on the fly, so the test itself holds no big buffer."""

    def __init__(self, size: int):
        self.remaining = size
        self.digest = hashlib.sha256()

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.remaining)
        chunk = (b"pdx-micro-drama-" * (n // 16 + 1))[:n]
        buffer[:n] = chunk
        self.digest.update(chunk)
        self.remaining -= n
        return n


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "a/../../b", "a\\b", "."])
def test_unsafe_keys_are_refused(key):
    with pytest.raises(ValueError, match="unsafe storage key"):
        safe_key(key)


def test_local_save_streams_and_hashes(tmp_path):
    storage = LocalStorage(tmp_path, "secret")
    stream = PatternStream(5 * 1024 * 1024 + 7)
    stored = storage.save("titles/1/master.mp4", stream)
    assert stored.size == 5 * 1024 * 1024 + 7
    assert stored.sha256 == stream.digest.hexdigest()
    assert storage.exists("titles/1/master.mp4")
    assert b"".join(storage.iter_bytes("titles/1/master.mp4"))[:16] == b"pdx-micro-drama-"


def test_local_failed_write_leaves_nothing(tmp_path):
    storage = LocalStorage(tmp_path, "secret")

    class Broken(io.RawIOBase):
        calls = 0

        def readable(self):
            return True

        def readinto(self, b):
            self.calls += 1
            if self.calls > 2:
                raise OSError(28, "No space left on device")
            b[:4] = b"data"
            return 4

    with pytest.raises(StorageError, match="No space left"):
        storage.save("x/y.bin", Broken())
    assert not storage.exists("x/y.bin")
    assert list((tmp_path / "x").iterdir()) == []


def test_local_signed_urls_expire_and_resist_tampering(tmp_path):
    storage = LocalStorage(tmp_path, "secret")
    url = storage.url("a/b.txt", 60)
    query = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))
    expires, sig = int(query["expires"]), query["sig"]
    assert storage.verify("a/b.txt", expires, sig)
    assert not storage.verify("a/c.txt", expires, sig)
    assert not storage.verify("a/b.txt", expires + 1, sig)
    assert not storage.verify("a/b.txt", expires, sig, now=expires + 1)


def test_signed_download_route(app, client):
    from marketplace.storage import get_storage

    storage = get_storage()
    storage.save("deliveries/test/hello.txt", io.BytesIO(b"hello buyer"))
    url = storage.url("deliveries/test/hello.txt", 60, filename="hello.txt")
    resp = client.get(url)
    assert resp.status_code == 200
    assert resp.data == b"hello buyer"
    part = client.get(url, headers={"Range": "bytes=6-10"})
    assert part.status_code == 206
    assert part.data == b"buyer"
    assert client.get(url.replace("sig=", "sig=0")).status_code == 403


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server in its own process, so this process's memory is ours alone."""
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)  # noqa: S310 - loopback
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3(s3_server):
    storage = S3Storage(f"pdx-test-{time.time_ns()}", endpoint_url=s3_server, chunk_mb=5,
                        access_key_id="test", secret_access_key="test")
    storage.ensure_bucket()
    return storage


def test_s3_roundtrip_and_presigned_url(s3):
    stored = s3.save("posters/1.jpg", io.BytesIO(b"\xff\xd8poster"), content_type="image/jpeg")
    assert stored.size == 8
    assert s3.exists("posters/1.jpg")
    assert s3.size("posters/1.jpg") == 8
    url = s3.url("posters/1.jpg", 120, filename="poster.jpg")
    assert "X-Amz-Expires=120" in url
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url) as resp:  # noqa: S310 - loopback moto server
        assert resp.read() == b"\xff\xd8poster"
    s3.delete("posters/1.jpg")
    assert not s3.exists("posters/1.jpg")
    with pytest.raises(StorageError):
        s3.open("posters/1.jpg").read()


def test_s3_multipart_upload_keeps_memory_flat(s3):
    size = 61 * 1024 * 1024  # thirteen 5 MiB parts
    stream = PatternStream(size)
    tracemalloc.start()
    stored = s3.save("masters/ep001.mp4", stream)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert stored.size == size
    assert stored.sha256 == stream.digest.hexdigest()
    assert s3.size("masters/ep001.mp4") == size
    # memory is bounded by a few parts in flight, not by the file
    assert peak < 30 * 1024 * 1024, f"peak {peak} for a {size}-byte upload"
    head = s3.client.head_object(Bucket=s3.bucket, Key="masters/ep001.mp4")
    assert "-" in head["ETag"]  # an S3 multipart ETag: md5-of-parts "-" part count
