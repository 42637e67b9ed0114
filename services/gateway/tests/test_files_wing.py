"""The files wing of the gateway: uploads streamed to a real SeaweedFS
(`weed server`, started for this module), the RPC pool and the accounts
store faked at their boundary. What is tested: the multipart stream, the
type detected from the bytes, limits, derivatives without EXIF/GPS, the
objects left (none) when anything fails, and the download's headers."""
import hashlib
import io
import json
import struct
import uuid
import zlib
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from PIL import ExifTags, Image

from fieldwork_common.errors import InvalidInput, NotFound
from fieldwork_common.files import Store, object_key
from fieldwork_common.principal import Principal
from fieldwork_common.testing.seaweed import SeaweedFS
from fieldwork_gateway.app import create_app
from fieldwork_gateway.auth import issue_token
from fieldwork_gateway.settings import Settings
from fieldwork_gateway.wings.files import images

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
COMPANY = "00000000-0000-4000-8000-00000000000c"
PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp", "image/heic"]


@pytest.fixture(scope="module")
def weed(tmp_path_factory):
    server = SeaweedFS(tmp_path_factory.mktemp("seaweed")).start()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in server.environment().items():
            patch.setenv(name, value)
        yield server
    server.stop()


@pytest.fixture
def store(weed):
    return Store(weed.settings)


class Cluster:
    """The services at the RPC boundary: `answers[method]` is a value, an
    exception, or a function of the call's arguments."""

    def __init__(self):
        self.calls = []
        self.answers = {"prepare_upload": lambda kind, company_id=None: {
            "kind": kind, "company_id": company_id or COMPANY, "max_bytes": 5 * 1024 * 1024,
            "accepted": {"photo": PHOTO_TYPES, "signature": ["image/png"],
                         "document": ["application/pdf"] + PHOTO_TYPES,
                         "video": ["video/mp4", "video/quicktime"]}[kind],
            "derivatives": {"photo": PHOTO_TYPES[:3], "signature": ["image/png"],
                            "document": PHOTO_TYPES[:3], "video": []}[kind]},
            "register_file": lambda file_id, **meta: {"id": file_id, **meta,
                                                      "has_thumbnail": meta["thumbnail"]}}

    def __getitem__(self, service):
        cluster = self

        class Service:
            def __getattr__(self, method):
                def call(**kwargs):
                    cluster.calls.append((method, kwargs))
                    answer = cluster.answers.get(method)
                    if isinstance(answer, BaseException):
                        raise answer
                    return answer(**kwargs) if callable(answer) else answer
                return call
        return Service()

    def called(self, method):
        return [kwargs for name, kwargs in self.calls if name == method]


class Pool:
    def __init__(self):
        self.cluster_ = Cluster()

    @contextmanager
    def cluster(self, principal=None, correlation_id=None, **call):
        self.cluster_.context = call
        yield self.cluster_


class Accounts:
    def principal_for(self, claims):
        return Principal(user_id=claims["sub"], role=claims["role"], company_id=claims["company_id"],
                         technician_id=claims["technician_id"], client_id=claims["client_id"])


@pytest.fixture
def pool(weed):
    return Pool()


@pytest.fixture
def client(pool):
    app = create_app(Settings(jwt_secret=SECRET, amqp_uri="memory://", database_url="postgresql://x@y/z"),
                     rpc_pool=pool, accounts=Accounts())
    return app.test_client()


def auth(role="manager"):
    user = SimpleNamespace(id="u1", role=role, company_id=COMPANY, technician_id=None, client_id=None)
    return {"Authorization": "Bearer " + issue_token(user, SECRET, 600, "s1")}


def error_of(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


# --- sample files ---------------------------------------------------------------------

def photo_with_gps(size=(1600, 1200), orientation=None):
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((20, 20, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCam"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N",
                                  ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
                                  ExifTags.GPS.GPSLongitudeRef: "E",
                                  ExifTags.GPS.GPSLongitude: (2.0, 21.0, 7.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90,
               xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">48.8566,2.3522</x:xmpmeta>')
    return out.getvalue()


def png(size=(300, 200), mode="RGBA"):
    out = io.BytesIO()
    Image.new(mode, size, (10, 200, 10, 128) if mode == "RGBA" else 128).save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n" * 50
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 5000


def form(kind="photo", data=None, name="photo.jpg", declared="image/jpeg", **extra):
    fields = {"kind": kind, **extra}
    if data is not None:
        fields["file"] = (io.BytesIO(data), name, declared)
    return fields


def upload(client, role="manager", **kw):
    return client.post("/files", data=form(**kw), headers=auth(role),
                       content_type="multipart/form-data")


def prefix(file_id=""):
    return f"files/{COMPANY}/{file_id}"


# --- uploads ----------------------------------------------------------------------------

def test_a_photo_streams_to_the_store_with_its_size_hash_and_detected_type(client, pool, store):
    data = photo_with_gps()
    response = upload(client, data=data)
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.get_json()
    [registered] = pool.cluster_.called("register_file")
    assert registered["size"] == len(data) == answer["size"]
    assert registered["sha256"] == hashlib.sha256(data).hexdigest() == answer["sha256"]
    assert registered["content_type"] == "image/jpeg"
    assert (registered["kind"], registered["company_id"], registered["original_name"]) == (
        "photo", COMPANY, "photo.jpg")
    assert registered["thumbnail"] is registered["client_copy"] is True
    file_id = answer["id"]
    assert uuid.UUID(file_id)
    assert store.get(object_key(COMPANY, file_id)).read() == data  # the original, byte for byte
    assert sorted(store.keys(prefix(file_id))) == [
        object_key(COMPANY, file_id, v) for v in ("client", "original", "thumbnail")]


def test_the_copies_have_no_exif_no_gps_and_the_thumbnail_is_at_most_400_px(client, store):
    response = upload(client, data=photo_with_gps(size=(3000, 2000)))
    file_id = response.get_json()["id"]
    original = Image.open(io.BytesIO(store.get(object_key(COMPANY, file_id)).read()))
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the original keeps its place
    for variant, most in (("thumbnail", 400), ("client", 2048)):
        raw = store.get(object_key(COMPANY, file_id, variant)).read()
        copy = Image.open(io.BytesIO(raw))
        assert max(copy.size) == most and copy.size == (most, round(most * 2 / 3)), variant
        assert copy.format == "JPEG"
        assert dict(copy.getexif()) == {} and copy.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert "exif" not in copy.info and "xmp" not in copy.info
        assert b"Exif\x00\x00" not in raw and b"adobe:ns:meta" not in raw and b"48.8566" not in raw


def test_a_copy_is_turned_upright_before_its_orientation_tag_goes():
    # orientation 6: the camera was turned; the picture is shown rotated 90°
    derived = images.derive(io.BytesIO(photo_with_gps(size=(1600, 1200), orientation=6)))
    copy = Image.open(io.BytesIO(derived.thumbnail.data))
    assert copy.size == (300, 400)
    assert copy.getpixel((150, 10))[2] > 150   # the blue half is on top now


def test_a_png_keeps_its_transparency_in_its_copies():
    derived = images.derive(io.BytesIO(png((800, 600))))
    copy = Image.open(io.BytesIO(derived.client.data))
    assert (copy.format, copy.mode, copy.size) == ("PNG", "RGBA", (800, 600))
    assert copy.getpixel((0, 0))[3] == 128
    assert derived.thumbnail.content_type == "image/png"
    assert Image.open(io.BytesIO(derived.thumbnail.data)).size == (400, 300)


def test_a_lying_name_and_declared_type_change_nothing(client, pool):
    response = upload(client, kind="document", data=png(), name="invoice.pdf",
                      declared="application/pdf")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["content_type"] == "image/png"
    response = upload(client, kind="document", data=PDF, name="holiday.jpg", declared="image/jpeg")
    assert response.get_json()["content_type"] == "application/pdf"
    assert pool.cluster_.called("register_file")[-1]["thumbnail"] is False


def test_a_type_the_kind_refuses_is_415_and_nothing_is_stored(client, pool, store):
    before = store.keys(prefix())
    error = error_of(upload(client, kind="signature", data=photo_with_gps(), name="sig.png",
                            declared="image/png"), 415)
    assert error["details"] == {"kind": "signature", "content_type": "image/jpeg",
                                "accepted": ["image/png"]}
    error = error_of(upload(client, kind="photo", data=b"just some text " * 100,
                            name="a.jpg"), 415)
    assert error["details"]["content_type"] is None
    assert store.keys(prefix()) == before and store.pending_uploads(prefix()) == []
    assert pool.cluster_.called("register_file") == []


def test_over_the_kind_s_limit_is_413_with_the_limit_and_nothing_is_stored(client, pool, store):
    pool.cluster_.answers["prepare_upload"] = {
        "kind": "photo", "company_id": COMPANY, "max_bytes": 1000, "accepted": PHOTO_TYPES,
        "derivatives": PHOTO_TYPES[:3]}
    before = store.keys(prefix())
    error = error_of(upload(client, data=photo_with_gps()), 413)
    assert error["details"] == {"kind": "photo", "limit_bytes": 1000}
    assert store.keys(prefix()) == before
    assert pool.cluster_.called("register_file") == []


def test_a_large_file_goes_in_parts_and_over_its_limit_leaves_no_part(client, pool, store):
    limit = 12 * 1024 * 1024
    pool.cluster_.answers["prepare_upload"] = {
        "kind": "video", "company_id": COMPANY, "max_bytes": limit,
        "accepted": ["video/mp4", "video/quicktime"], "derivatives": []}
    body = MP4 + b"\x01" * (limit - len(MP4))
    response = upload(client, kind="video", data=body, name="clip.mp4", declared="video/mp4")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["sha256"] == hashlib.sha256(body).hexdigest()
    before = store.keys(prefix())
    error = error_of(upload(client, kind="video", data=body + b"\x01", name="clip.mp4"), 413)
    assert error["details"]["limit_bytes"] == limit
    assert store.keys(prefix()) == before and store.pending_uploads(prefix()) == []


def test_a_failed_registration_deletes_what_was_written(client, pool, store):
    pool.cluster_.answers["register_file"] = InvalidInput("The company is deactivated.", {})
    before = store.keys(prefix())
    error_of(upload(client, data=photo_with_gps()), 400)
    [registered] = pool.cluster_.called("register_file")
    assert store.keys(prefix(registered["file_id"])) == []
    assert store.keys(prefix()) == before


def test_a_refusal_before_the_upload_writes_nothing(client, pool, store):
    pool.cluster_.answers["prepare_upload"] = NotFound("Company not found.",
                                                       {"company_id": str(uuid.uuid4())})
    before = store.keys(prefix())
    error_of(upload(client, data=photo_with_gps(), company_id=str(uuid.uuid4())), 404)
    assert store.keys(prefix()) == before


def test_a_repeated_upload_answers_the_first_file_and_keeps_no_second_copy(client, pool, store):
    first = str(uuid.uuid4())
    pool.cluster_.answers["register_file"] = lambda file_id, **meta: {"id": first, **meta}
    before = store.keys(prefix())
    response = client.post("/files", data=form(data=png()), content_type="multipart/form-data",
                           headers={**auth(), "Idempotency-Key": "upload-1"})
    assert response.status_code == 201 and response.get_json()["id"] == first
    assert store.keys(prefix()) == before
    # the request's hash is the file's, so the same key with another file is a conflict
    key, request_hash = pool.cluster_.context["idempotency_key"], pool.cluster_.context["request_hash"]
    assert key and request_hash
    client.post("/files", data=form(data=png((10, 10))), content_type="multipart/form-data",
                headers={**auth(), "Idempotency-Key": "upload-1"})
    assert pool.cluster_.context["request_hash"] != request_hash


def multipart(*parts, boundary="b0undary"):
    body = b""
    for headers, data in parts:
        body += b"--" + boundary.encode() + b"\r\n" + headers.encode() + b"\r\n\r\n" + data + b"\r\n"
    return body + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def field(name, value):
    return f'Content-Disposition: form-data; name="{name}"', value.encode()


def file_part(data, name="file", filename="a.png"):
    return (f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: image/png", data)


@pytest.mark.parametrize("parts, details", [
    ((field("kind", "photo"),), {"field": "file"}),
    ((field("kind", "photo"), field("file", "not a file")), {"field": "file"}),
    ((field("kind", "photo"), field("owner", "me"), file_part(b"x")), {"field": "owner",
                                                                        "allowed": ["kind", "company_id", "file"]}),
    ((field("kind", "photo"), file_part(b"x", name="photo")), {"field": "photo",
                                                                "allowed": ["kind", "company_id", "file"]}),
    ((field("kind", "photo"), field("kind", "video"), file_part(b"x")), {"field": "kind"}),
    ((field("kind", "photo"), file_part(png()), field("company_id", COMPANY)), {"field": "company_id"}),
], ids=["no file", "file as a field", "unknown field", "file under another name", "twice",
        "file not last"])
def test_a_malformed_form_is_400_and_nothing_is_stored(client, pool, store, parts, details):
    before = store.keys(prefix())
    body, content_type = multipart(*parts)
    error = error_of(client.post("/files", data=body, content_type=content_type, headers=auth()), 400)
    assert error["details"] == details
    assert store.keys(prefix()) == before and store.pending_uploads(prefix()) == []
    assert pool.cluster_.called("register_file") == []


def test_the_kind_comes_before_the_file_and_is_one_of_the_kinds(client):
    body, content_type = multipart(file_part(png()), field("kind", "photo"))
    error_of(client.post("/files", data=body, content_type=content_type, headers=auth()), 400)
    body, content_type = multipart(field("kind", "selfie"), file_part(png()))
    error = error_of(client.post("/files", data=body, content_type=content_type, headers=auth()), 400)
    assert "kind" in error["details"]["fields"]


def test_a_body_that_is_not_multipart_is_400_naming_the_file_field(client):
    error = error_of(client.post("/files", json={"kind": "photo"}, headers=auth()), 400)
    assert error["details"] == {"field": "file"}


def test_an_empty_file_is_400(client, store):
    body, content_type = multipart(field("kind", "photo"), file_part(b""))
    error = error_of(client.post("/files", data=body, content_type=content_type, headers=auth()), 400)
    assert error["details"] == {"field": "file"}


def test_an_upload_cut_in_the_middle_keeps_nothing(client, pool, store):
    body, content_type = multipart(field("kind", "photo"), file_part(png((900, 900), "RGB") * 40))
    before = store.keys(prefix())
    cut = body[:len(body) // 2]
    response = client.post("/files", input_stream=io.BytesIO(cut), content_type=content_type,
                           headers={**auth(), "Content-Length": str(len(body))})
    error = error_of(response, 400)
    assert error["details"] == {"reason": "incomplete"}
    assert store.keys(prefix()) == before and store.pending_uploads(prefix()) == []
    assert pool.cluster_.called("register_file") == []


def test_an_image_that_does_not_decode_is_400_and_nothing_is_stored(client, pool, store):
    broken = photo_with_gps()[:3000]  # a JPEG's first bytes, then nothing
    before = store.keys(prefix())
    error = error_of(upload(client, data=broken), 400)
    assert "decoded" in error["message"]
    assert store.keys(prefix()) == before


def test_an_image_of_too_many_pixels_is_413():
    small = png((10, 10), "L")
    # the same PNG whose header claims 10000 × 5000 pixels
    ihdr = small.index(b"IHDR")
    header = b"IHDR" + struct.pack(">II", 10000, 5000) + small[ihdr + 12:ihdr + 17]
    claimed = small[:ihdr] + header + struct.pack(">I", zlib.crc32(header)) + small[ihdr + 21:]
    with pytest.raises(Exception) as caught:
        images.derive(io.BytesIO(claimed))
    assert caught.value.http_status == 413
    assert caught.value.details["max_pixels"] == images.MAX_PIXELS


def test_json_bodies_stay_limited_to_1_mb(client, pool):
    big = json.dumps({"name": "x" * (1024 * 1024)})
    error = error_of(client.post("/companies", data=big, content_type="application/json",
                                 headers=auth("admin")), 413)
    assert error["details"] == {"limit_bytes": 1024 * 1024}
    # announced by no Content-Length: counted as it is read
    error = error_of(client.post("/companies", input_stream=io.BytesIO(big.encode()),
                                 content_type="application/json",
                                 environ_overrides={"wsgi.input_terminated": True},
                                 headers=auth("admin")), 413)
    assert error["details"] == {"limit_bytes": 1024 * 1024}
    assert pool.cluster_.calls == []


# --- downloads --------------------------------------------------------------------------------

def stored_file(store, data, content_type, name, variant="original"):
    file_id = str(uuid.uuid4())
    key = object_key(COMPANY, file_id, variant)
    store.put_bytes(key, data, content_type)
    return {"file": {"id": file_id, "content_type": content_type, "original_name": name,
                     "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)},
            "variant": variant, "key": key}


def test_a_download_streams_the_bytes_with_its_headers(client, pool, store):
    found = stored_file(store, PDF, "application/pdf", "Rapport d'intervention é.pdf")
    pool.cluster_.answers["file_download"] = found
    response = client.get(f"/files/{found['file']['id']}", headers=auth())
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Length"] == str(len(PDF))
    assert response.headers["Cache-Control"] == "private"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Rapport d'intervention _.pdf\"; "
        "filename*=UTF-8''Rapport%20d%27intervention%20%C3%A9.pdf")
    assert pool.cluster_.called("file_download") == [{"file_id": found["file"]["id"],
                                                      "variant": "original"}]


def test_an_image_is_shown_inline_and_its_copy_keeps_the_stored_type(client, pool, store):
    found = stored_file(store, png(), "image/png", None, variant="client")
    pool.cluster_.answers["file_download"] = found
    response = client.get(f"/files/{found['file']['id']}", headers=auth("client"))
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith(
        f"inline; filename=\"{found['file']['id']}.png\"")
    assert "ETag" not in response.headers  # the original's hash does not describe the copy


def test_a_registered_file_missing_from_the_store_is_404_without_its_key(client, pool):
    file_id = str(uuid.uuid4())
    pool.cluster_.answers["file_download"] = {
        "file": {"id": file_id, "content_type": "application/pdf", "original_name": None,
                 "sha256": "0" * 64, "size": 1},
        "variant": "original", "key": object_key(COMPANY, file_id)}
    error = error_of(client.get(f"/files/{file_id}", headers=auth()), 404)
    assert error["details"] == {"file_id": file_id}


def test_an_unanswered_registration_keeps_the_objects_it_may_name(client, pool, store):
    """503: the service may have committed the row and lost its reply; the
    bytes stay rather than risk a row naming nothing."""
    from fieldwork_common.errors import Unavailable
    pool.cluster_.answers["register_file"] = Unavailable("A service did not answer in time.", {})
    error_of(upload(client, data=photo_with_gps()), 503)
    [registered] = pool.cluster_.called("register_file")
    assert sorted(store.keys(prefix(registered["file_id"]))) == [
        object_key(COMPANY, registered["file_id"], v) for v in ("client", "original", "thumbnail")]


NASTY = {
    "garbage": (b"\x00\xff" * 500, "multipart/form-data; boundary=b0undary"),
    "no boundary in the body": (b"kind=photo", "multipart/form-data; boundary=b0undary"),
    "no boundary parameter": (b"--x\r\n", "multipart/form-data"),
    "a part without disposition": (b"--b0undary\r\nContent-Type: text/plain\r\n\r\nx\r\n--b0undary--\r\n",
                                   "multipart/form-data; boundary=b0undary"),
    "headers not in UTF-8": (b"--b0undary\r\nContent-Disposition: form-data; name=\"kind\xff\"\r\n\r\n"
                             b"photo\r\n--b0undary--\r\n", "multipart/form-data; boundary=b0undary"),
    "a field not in UTF-8": (b"--b0undary\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n"
                             b"ph\xffoto\r\n--b0undary--\r\n", "multipart/form-data; boundary=b0undary"),
    "a NUL in a field": (b"--b0undary\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n"
                         b"pho\x00to\r\n--b0undary\r\nContent-Disposition: form-data; name=\"file\"; "
                         b"filename=\"a.png\"\r\n\r\nx\r\n--b0undary--\r\n",
                         "multipart/form-data; boundary=b0undary"),
    "a long field": (b"--b0undary\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n"
                     + b"p" * 5000 + b"\r\n--b0undary--\r\n", "multipart/form-data; boundary=b0undary"),
    "huge headers": (b"--b0undary\r\nContent-Disposition: form-data; name=\"kind\"\r\nX: "
                     + b"h" * 300_000 + b"\r\n\r\nphoto\r\n--b0undary--\r\n",
                     "multipart/form-data; boundary=b0undary"),
    "only the end": (b"--b0undary--\r\n", "multipart/form-data; boundary=b0undary"),
    "empty": (b"", "multipart/form-data; boundary=b0undary"),
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_a_broken_body_is_a_4xx_with_the_error_body_never_a_500(client, pool, store, name):
    body, content_type = NASTY[name]
    before = store.keys(prefix())
    response = client.post("/files", data=body, content_type=content_type, headers=auth())
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert set(response.get_json()["error"]) == {"code", "message", "details"}
    assert store.keys(prefix()) == before
    assert pool.cluster_.called("register_file") == []


def test_a_file_name_that_is_not_text_is_kept_as_text(client, pool):
    body, content_type = multipart(field("kind", "photo"),
                                   file_part(png(), filename="ph\u00f6to\u202e.png"))
    response = client.post("/files", data=body, content_type=content_type, headers=auth())
    assert response.status_code == 201, response.get_data(as_text=True)
    assert pool.cluster_.called("register_file")[-1]["original_name"] == "ph\u00f6to\u202e.png"
