"""Files in an S3-compatible object store (DESIGN.md §5, docs/files.md).

The bytes live in one bucket of any S3 (SeaweedFS by default, AWS, MinIO),
reached through boto3; databases keep only metadata. Settings come from the
environment (`S3_ENDPOINT_URL`, `S3_ACCESS_KEY`, `S3_SECRET_KEY`,
`S3_BUCKET`, `S3_REGION`); `store()` is the one client of this process.

Writes stream: `Store.writer()` takes the bytes a chunk at a time, keeps at
most one part (`PART_SIZE`) in memory, counts them against a limit and
computes their SHA-256 on the way. Nothing is visible in the bucket until
`complete()`: a small object is put whole at the end, a large one is an S3
multipart upload, completed at the end or aborted.

Object keys: `files/<company_id>/<file_id>/<variant>`, variant `original`,
`thumbnail` or `client` (the copy without EXIF/GPS that clients read).
"""
import hashlib
import logging
import os
import threading
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from fieldwork_common.errors import NotFound, PayloadTooLarge, Unavailable

log = logging.getLogger(__name__)

PART_SIZE = 8 * 1024 * 1024       # S3 needs ≥ 5 MiB for every part but the last
READ_CHUNK = 64 * 1024
VARIANTS = ("original", "thumbnail", "client")


def object_key(company_id, file_id, variant="original"):
    if variant not in VARIANTS:
        raise ValueError(variant)
    return f"files/{company_id}/{file_id}/{variant}"


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None = None   # None: AWS itself
    access_key: str | None = None     # None: boto3's own chain (instance role, ~/.aws)
    secret_key: str | None = None
    bucket: str = "fieldwork"
    region: str = "us-east-1"

    @classmethod
    def from_env(cls, environ=None):
        env = os.environ if environ is None else environ
        return cls(endpoint_url=env.get("S3_ENDPOINT_URL") or None,
                   access_key=env.get("S3_ACCESS_KEY") or None,
                   secret_key=env.get("S3_SECRET_KEY") or None,
                   bucket=env.get("S3_BUCKET") or "fieldwork",
                   region=env.get("S3_REGION") or "us-east-1")

    def environment(self):
        """These settings as the variables a process reads."""
        env = {"S3_BUCKET": self.bucket, "S3_REGION": self.region}
        for name, value in (("S3_ENDPOINT_URL", self.endpoint_url),
                            ("S3_ACCESS_KEY", self.access_key), ("S3_SECRET_KEY", self.secret_key)):
            if value:
                env[name] = value
        return env


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str
    content_type: str


@dataclass
class Download:
    """An object being read: `chunks()` streams it, `close()` frees the
    connection (call it when the stream is not read to its end)."""
    body: object
    length: int
    content_type: str

    def chunks(self, size=READ_CHUNK):
        try:
            yield from self.body.iter_chunks(size)
        finally:
            self.body.close()

    def read(self):
        try:
            return self.body.read()
        finally:
            self.body.close()

    def close(self):
        self.body.close()


def _unavailable(exc):
    log.warning("the file store failed: %s", exc)
    return Unavailable("The file store is not reachable.", {"store": "s3"})


class Writer:
    """One object written a chunk at a time (see the module's docstring)."""

    def __init__(self, store, key, content_type, limit, part_size=PART_SIZE):
        self.store, self.key, self.content_type = store, key, content_type
        self.limit, self.part_size = limit, part_size
        self.size = 0
        self._sha = hashlib.sha256()
        self._buffer = bytearray()
        self._upload_id = None
        self._parts = []
        self.done = False

    def write(self, data):
        if not data:
            return
        if self.size + len(data) > self.limit:
            self.abort()
            raise PayloadTooLarge(f"The file is larger than the limit of {self.limit} bytes.",
                                  {"limit_bytes": self.limit})
        self.size += len(data)
        self._sha.update(data)
        self._buffer += data
        while len(self._buffer) >= self.part_size:
            with memoryview(self._buffer) as view:
                part = bytes(view[:self.part_size])
            del self._buffer[:self.part_size]
            self._upload_part(part)

    def _upload_part(self, part):
        client, bucket = self.store.client, self.store.settings.bucket
        try:
            if self._upload_id is None:
                self._upload_id = client.create_multipart_upload(
                    Bucket=bucket, Key=self.key, ContentType=self.content_type)["UploadId"]
            number = len(self._parts) + 1
            answer = client.upload_part(Bucket=bucket, Key=self.key, UploadId=self._upload_id,
                                        PartNumber=number, Body=part)
        except (BotoCoreError, ClientError) as exc:
            self.abort()
            raise _unavailable(exc) from None
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self):
        """Make the object visible; its size and SHA-256."""
        client, bucket = self.store.client, self.store.settings.bucket
        try:
            if self._upload_id is None:
                client.put_object(Bucket=bucket, Key=self.key, Body=bytes(self._buffer),
                                  ContentType=self.content_type)
            else:
                if self._buffer:
                    self._upload_part(bytes(self._buffer))
                client.complete_multipart_upload(
                    Bucket=bucket, Key=self.key, UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts})
        except (BotoCoreError, ClientError) as exc:
            self.abort()
            raise _unavailable(exc) from None
        self._buffer = bytearray()
        self.done = True
        return Stored(self.key, self.size, self._sha.hexdigest(), self.content_type)

    def abort(self):
        """Forget what was sent: nothing stays in the bucket (a completed
        object is deleted)."""
        self._buffer = bytearray()
        try:
            if self.done:
                self.store.delete(self.key)
            elif self._upload_id is not None:
                self.store.client.abort_multipart_upload(
                    Bucket=self.store.settings.bucket, Key=self.key, UploadId=self._upload_id)
        except (BotoCoreError, ClientError) as exc:
            log.warning("could not abort the upload of %s: %s", self.key, exc)
        self._upload_id = None
        self.done = False


class Store:
    def __init__(self, settings=None):
        self.settings = settings or S3Settings.from_env()
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        # botocore clients are thread-safe; one made before a fork is not
        # used after it (its connections belong to the parent)
        if self._client is None or self._client[0] != os.getpid():
            with self._lock:
                if self._client is None or self._client[0] != os.getpid():
                    self._client = (os.getpid(), self._new_client())
        return self._client[1]

    def _new_client(self):
        s = self.settings
        config = Config(
            # SeaweedFS and MinIO answer on one host name: path-style URLs
            s3={"addressing_style": "path" if s.endpoint_url else "auto"},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5, read_timeout=60, signature_version="s3v4")
        return boto3.session.Session().client(
            "s3", endpoint_url=s.endpoint_url, region_name=s.region,
            aws_access_key_id=s.access_key, aws_secret_access_key=s.secret_key, config=config)

    def writer(self, key, content_type, limit, part_size=PART_SIZE):
        return Writer(self, key, content_type, limit, part_size)

    def put(self, key, chunks, content_type, limit, part_size=PART_SIZE):
        """Write an iterable of byte chunks as one object; Stored (size,
        SHA-256), or PayloadTooLarge with nothing left behind."""
        writer = self.writer(key, content_type, limit, part_size)
        try:
            for chunk in chunks:
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.complete()

    def put_bytes(self, key, data, content_type):
        """A small object (a thumbnail) in one request."""
        try:
            self.client.put_object(Bucket=self.settings.bucket, Key=key, Body=data,
                                   ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from None
        return Stored(key, len(data), hashlib.sha256(data).hexdigest(), content_type)

    def get(self, key):
        """The object as a stream (Download), or NotFound."""
        try:
            answer = self.client.get_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound("File not found.", {"key": key}) from None
            raise _unavailable(exc) from None
        except BotoCoreError as exc:
            raise _unavailable(exc) from None
        return Download(answer["Body"], answer["ContentLength"],
                        answer.get("ContentType") or "application/octet-stream")

    def head(self, key):
        """(size, content type) of an object, or None when there is none."""
        try:
            answer = self.client.head_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise _unavailable(exc) from None
        except BotoCoreError as exc:
            raise _unavailable(exc) from None
        return answer["ContentLength"], answer.get("ContentType")

    def delete(self, *keys):
        """Delete objects (an absent one is no error)."""
        for key in keys:
            if key is None:
                continue
            try:
                self.client.delete_object(Bucket=self.settings.bucket, Key=key)
            except (BotoCoreError, ClientError) as exc:
                raise _unavailable(exc) from None

    def presign(self, key, expires=300, content_type=None, disposition=None):
        """A URL that reads the object without credentials for `expires`
        seconds (S3 signs it: it cannot be changed or extended)."""
        params = {"Bucket": self.settings.bucket, "Key": key}
        if content_type:
            params["ResponseContentType"] = content_type
        if disposition:
            params["ResponseContentDisposition"] = disposition
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    def keys(self, prefix):
        """Every key under `prefix` (listing needs the List right)."""
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=prefix):
                found += [item["Key"] for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from None
        return found

    def listing(self, prefix):
        """(key, last modified) of every object under `prefix`, page by page."""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=prefix):
                yield [(item["Key"], item["LastModified"]) for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from None

    def unfinished_uploads(self, prefix):
        """(key, upload id, started at) of the multipart uploads under
        `prefix` that were neither completed nor aborted."""
        try:
            answer = self.client.list_multipart_uploads(Bucket=self.settings.bucket, Prefix=prefix)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from None
        return [(u["Key"], u["UploadId"], u["Initiated"]) for u in answer.get("Uploads", [])]

    def abort_upload(self, key, upload_id):
        try:
            self.client.abort_multipart_upload(Bucket=self.settings.bucket, Key=key,
                                               UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from None

    def pending_uploads(self, prefix):
        """The keys of multipart uploads started under `prefix` and neither
        completed nor aborted."""
        try:
            answer = self.client.list_multipart_uploads(Bucket=self.settings.bucket, Prefix=prefix)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from None
        return [upload["Key"] for upload in answer.get("Uploads", [])]

    def ensure_bucket(self):
        """Create the bucket when it does not exist (True if it was made).
        A key without the right to create buckets is fine as long as the
        bucket exists."""
        client, bucket = self.client, self.settings.bucket
        try:
            client.head_bucket(Bucket=bucket)
            return False
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("403", "AccessDenied", "Forbidden"):
                # a key with object rights only (no s3:ListBucket) cannot ask
                log.warning("cannot check that the bucket %s exists (%s): a wrong key answers "
                            "the same; uploads will tell", bucket, code)
                return False
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise
        client.create_bucket(Bucket=bucket)
        return True


_stores = {}
_stores_lock = threading.Lock()


def store():
    """The Store of this process, from the environment (one boto3 client)."""
    settings = S3Settings.from_env()
    with _stores_lock:
        found = _stores.get(settings)
        if found is None:
            found = _stores[settings] = Store(settings)
        return found
