"""Files (issue 9 §3, docs/files.md) through the running platform: the
gateway streams uploads to a real SeaweedFS (the session's, with its one
key), the interventions service keeps their metadata and says who reads
what. Nothing here is faked."""
import hashlib
import io
import socket
import uuid

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import ExifTags, Image

from fieldwork_common.files import Store, object_key
from fieldwork_common.testing.waiting import wait_until

MiB = 1024 * 1024


# --- what is uploaded ---------------------------------------------------------------------

def jpeg_with_gps(size=(2400, 1600)):
    image = Image.new("RGB", size, (180, 40, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCam"
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N",
                                  ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
                                  ExifTags.GPS.GPSLongitudeRef: "E",
                                  ExifTags.GPS.GPSLongitude: (2.0, 21.0, 7.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png(size=(64, 32)):
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 0, 255)).save(out, "PNG")
    return out.getvalue()


def pdf(size=20_000):
    head = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"
    return head + b"%" * (size - len(head) - 6) + b"\n%%EOF"


def mp4(size=300_000):
    head = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
    return head + bytes(range(256)) * ((size - len(head)) // 256)


SAMPLES = {"photo": ("photo.jpg", jpeg_with_gps, "image/jpeg"),
           "video": ("clip.mp4", mp4, "video/mp4"),
           "document": ("report.pdf", pdf, "application/pdf"),
           "signature": ("signature.png", png, "image/png")}


@pytest.fixture(scope="module")
def store(seaweed):
    return Store(seaweed.settings)


@pytest.fixture(scope="module")
def shop(world):
    """A company with its manager, technician, client and a workshop intervention."""
    company = world.company()
    technician = world.technician(company)
    client = world.client(company)
    intervention = world.intervention(client=client, technician=technician)
    return {"company": company, "technician": technician, "client": client,
            "intervention": intervention,
            "manager": world.login_for("manager", company_id=company["id"]),
            "worker": world.login_for("technician", technician_id=technician["id"]),
            "customer": world.login_for("client", client_id=client["id"])}


def upload(user, kind, data, name, **form):
    return user.request("POST", "/files", data={"kind": kind, **form}, files={"file": (name, data)})


def rows_of(service_db, company):
    return service_db("interventions", "SELECT id, size, sha256, content_type FROM files "
                      "WHERE company_id = :c", c=company["id"])


def objects_of(store, company):
    return store.keys(f"files/{company['id']}/"), store.pending_uploads(f"files/{company['id']}/")


def error_of(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


# --- uploads and reads ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_is_stored_and_read_back_byte_for_byte(kind, shop, service_db, store):
    name, make, content_type = SAMPLES[kind]
    data = make()
    response = upload(shop["worker"], kind, data, name)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert (answer["kind"], answer["content_type"], answer["size"], answer["sha256"]) == (
        kind, content_type, len(data), hashlib.sha256(data).hexdigest())
    assert answer["company_id"] == shop["company"]["id"] and answer["original_name"] == name
    assert answer["has_thumbnail"] is (content_type in ("image/jpeg", "image/png"))
    # the database holds the metadata, the store the bytes
    [(row_id, size, sha256, stored_type)] = service_db(
        "interventions", "SELECT id, size, sha256, content_type FROM files WHERE id = :i",
        i=answer["id"])
    assert (str(row_id), size, sha256, stored_type) == (answer["id"], len(data), answer["sha256"],
                                                        content_type)
    assert store.head(object_key(shop["company"]["id"], answer["id"])) == (len(data), content_type)

    read = shop["manager"].get(f"/files/{answer['id']}")
    assert read.status_code == 200 and read.content == data
    assert read.headers["Content-Type"] == content_type
    assert read.headers["Content-Length"] == str(len(data))
    assert read.headers["Cache-Control"] == "private"
    assert read.headers["X-Content-Type-Options"] == "nosniff"
    disposition = "inline" if content_type.startswith("image/") else "attachment"
    assert read.headers["Content-Disposition"].startswith(f'{disposition}; filename="{name}"')


def test_the_type_comes_from_the_bytes_never_the_name(shop):
    as_pdf = upload(shop["manager"], "document", png(), "invoice.pdf")
    assert as_pdf.status_code == 201 and as_pdf.json()["content_type"] == "image/png"
    named_photo = shop["manager"].request(
        "POST", "/files", data={"kind": "document"},
        files={"file": ("holiday.jpg", pdf(), "image/jpeg")})
    assert named_photo.json()["content_type"] == "application/pdf"
    assert named_photo.json()["has_thumbnail"] is False


def test_a_type_the_kind_refuses_is_415_with_the_accepted_types(shop, service_db, store):
    company = {"id": shop["company"]["id"]}
    before = rows_of(service_db, company), objects_of(store, company)
    error = error_of(upload(shop["worker"], "video", png(), "clip.mp4"), 415)
    assert error["details"] == {"kind": "video", "content_type": "image/png",
                                "accepted": ["video/mp4", "video/quicktime"]}
    error = error_of(upload(shop["worker"], "signature", jpeg_with_gps(), "sig.png"), 415)
    assert error["details"]["accepted"] == ["image/png"]
    assert (rows_of(service_db, company), objects_of(store, company)) == before


def test_over_a_kind_s_limit_is_413_with_the_limit_and_nothing_is_kept(world, admin, service_db,
                                                                       store):
    company = world.company()
    big_signature = png() + b"\x00" * MiB  # PNG bytes first: a signature, 1 MiB + a little
    error = error_of(upload(admin, "signature", big_signature, "sig.png",
                            company_id=company["id"]), 413)
    assert error["details"] == {"kind": "signature", "limit_bytes": MiB}
    exactly = pdf(25 * MiB)
    accepted = upload(admin, "document", exactly, "big.pdf", company_id=company["id"])
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["sha256"] == hashlib.sha256(exactly).hexdigest()
    error = error_of(upload(admin, "document", exactly + b"\n", "big.pdf",
                            company_id=company["id"]), 413)
    assert error["details"] == {"kind": "document", "limit_bytes": 25 * MiB}
    assert [str(row[0]) for row in rows_of(service_db, company)] == [accepted.json()["id"]]
    assert objects_of(store, company) == (
        [object_key(company["id"], accepted.json()["id"])], [])


def test_without_a_file_it_is_400(shop):
    error = error_of(shop["manager"].request("POST", "/files", data={"kind": "photo"}), 400)
    assert error["details"] == {"field": "file"}
    error = error_of(shop["manager"].post("/files", {"kind": "photo"}), 400)
    assert error["details"] == {"field": "file"}


def test_a_platform_admin_names_the_company_and_a_client_uploads_for_its_own(world, admin, shop):
    error = error_of(upload(admin, "document", pdf(), "r.pdf"), 400)
    assert error["details"] == {"company_id": "required"}
    mine = upload(shop["customer"], "document", pdf(), "r.pdf")
    assert mine.status_code == 201 and mine.json()["company_id"] == shop["company"]["id"]
    error_of(upload(shop["customer"], "document", pdf(), "r.pdf",
                    company_id=world.company()["id"]), 404)


def test_an_upload_repeated_with_its_idempotency_key_keeps_one_copy(world, admin, service_db, store):
    company = world.company()
    data, key = pdf(), {"Idempotency-Key": f"upload-{uuid.uuid4().hex}"}

    def again(body):
        return admin.request("POST", "/files", data={"kind": "document", "company_id": company["id"]},
                             files={"file": ("r.pdf", body)}, headers=key)
    first = created_file(again(data))
    assert created_file(again(data)) == first
    error_of(again(pdf(30_000)), 409)  # the same key with another file
    assert [str(row[0]) for row in rows_of(service_db, company)] == [first["id"]]
    assert objects_of(store, company) == ([object_key(company["id"], first["id"])], [])


# --- cut uploads, failed registrations -----------------------------------------------------

def multipart_head(kind, name, company_id=None, boundary="fieldwork-test-boundary"):
    fields = {"kind": kind, **({"company_id": company_id} if company_id else {})}
    head = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                    f"{value}\r\n".encode() for key, value in fields.items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head, f"\r\n--{boundary}--\r\n".encode(), boundary


def open_upload(platform, user, kind, name, file_size, company_id=None):
    """A socket on which an upload's headers and form fields are sent; the
    file's bytes are the caller's to send (or not)."""
    head, tail, boundary = multipart_head(kind, name, company_id)
    sock = socket.create_connection(("127.0.0.1", platform.gateway_port), timeout=30)
    request = (f"POST /files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {user.token}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
               f"Content-Length: {len(head) + file_size + len(tail)}\r\n\r\n").encode()
    sock.sendall(request + head)
    return sock, tail


def answer_of(sock):
    """The status line and body of the answer on `sock`."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:")]
        if length and len(body) >= length[0]:
            break
    return data.split(b"\r\n", 1)[0], data.partition(b"\r\n\r\n")[2]


def test_an_upload_cut_before_its_end_keeps_nothing(world, admin, platform, service_db, store):
    """The client stops sending and closes its side: the gateway answers
    400 on the half-open socket, after removing what it had written."""
    company = world.company()
    sock, _ = open_upload(platform, admin, "document", "cut.pdf", 2 * MiB, company["id"])
    with sock:
        sock.sendall(pdf(MiB))          # half of the file, then nothing more
        sock.shutdown(socket.SHUT_WR)
        status, body = answer_of(sock)
    assert status.split()[1] == b"400", (status, body)
    assert b'"reason":"incomplete"' in body
    assert rows_of(service_db, company) == []
    assert objects_of(store, company) == ([], [])


def test_an_upload_cut_in_the_middle_of_its_parts_leaves_no_part_and_no_row(
        world, admin, platform, service_db, store):
    """12 MiB of a 20 MiB video reach the store as parts of a multipart
    upload; the client then vanishes: the upload is aborted, no row."""
    company = world.company()
    prefix = f"files/{company['id']}/"
    sock, _ = open_upload(platform, admin, "video", "cut.mp4", 20 * MiB, company["id"])
    sent = mp4(12 * MiB)
    sock.sendall(sent)
    wait_until(lambda: store.pending_uploads(prefix), timeout=30,
               message="the gateway streaming parts to the store")
    sock.close()
    wait_until(lambda: objects_of(store, company) == ([], []), timeout=30,
               message="the cut upload aborted in the store")
    assert rows_of(service_db, company) == []


def test_a_registration_refused_after_the_upload_deletes_its_objects(
        world, admin, platform, service_db, store):
    """The company is deactivated while its file is on the way: the
    registration refuses it (400) and the gateway deletes what it wrote."""
    company = world.company()
    prefix = f"files/{company['id']}/"
    data = pdf(12 * MiB)
    sock, tail = open_upload(platform, admin, "document", "late.pdf", len(data), company["id"])
    with sock:
        sock.sendall(data[:10 * MiB])
        wait_until(lambda: store.pending_uploads(prefix), timeout=30,
                   message="the gateway streaming parts to the store")
        version = admin.get(f"/companies/{company['id']}").json()["version"]
        response = admin.request("PATCH", f"/companies/{company['id']}",
                                 json={"active": False, "version": version})
        assert response.status_code == 200, response.text
        sock.sendall(data[10 * MiB:] + tail)
        status, body = answer_of(sock)
    assert status.split()[1] == b"400", (status, body)
    assert b"deactivated" in body
    assert objects_of(store, company) == ([], [])
    assert rows_of(service_db, company) == []


# --- attachments and who reads what ------------------------------------------------------------

def attach(user, intervention, file, visible_to_client):
    return user.post(f"/interventions/{intervention['id']}/attachments",
                     {"file_id": file["id"], "visible_to_client": visible_to_client})


def attachments(service_db, intervention=None):
    sql = "SELECT count(*), md5(coalesce(string_agg(to_jsonb(t)::text, ','), '')) FROM intervention_attachments t"
    if intervention is None:
        return service_db("interventions", sql)
    return service_db("interventions", sql + " WHERE intervention_id = :i", i=intervention["id"])


def test_another_company_s_file_is_404_in_an_attachment_and_writes_nothing(world, admin, shop,
                                                                          service_db):
    other = world.company()
    theirs = world.file(company_id=other["id"])
    before = attachments(service_db), service_db(
        "interventions", "SELECT to_jsonb(i)::text FROM interventions i WHERE id = :i",
        i=shop["intervention"]["id"])
    for user in (shop["manager"], shop["worker"], shop["customer"]):
        error = error_of(attach(user, shop["intervention"], theirs, True), 404)
        assert error["details"] == {"file_id": theirs["id"]}
    # a platform admin sees both, but a file stays in its company: 400
    error = error_of(attach(admin, shop["intervention"], theirs, True), 400)
    assert error["details"]["file_company_id"] == other["id"]
    assert (attachments(service_db), service_db(
        "interventions", "SELECT to_jsonb(i)::text FROM interventions i WHERE id = :i",
        i=shop["intervention"]["id"])) == before


def test_a_client_reads_only_what_is_attached_to_its_interventions_for_it(world, shop, service_db):
    intervention, worker, customer = shop["intervention"], shop["worker"], shop["customer"]
    shown = created_file(upload(worker, "photo", jpeg_with_gps(), "before.jpg"))
    internal = created_file(upload(worker, "photo", jpeg_with_gps(), "internal.jpg"))
    loose = created_file(upload(worker, "document", pdf(), "notes.pdf"))
    for file, visible in ((shown, True), (internal, False)):
        response = attach(worker, intervention, file, visible)
        assert response.status_code == 201, response.text
        assert response.json()["visible_to_client"] is visible
    assert intervention["version"] == world.admin.get(
        f"/interventions/{intervention['id']}").json()["version"]  # attachments keep the version
    error_of(attach(worker, intervention, shown, True), 409)

    listed = customer.get(f"/interventions/{intervention['id']}/attachments").json()["items"]
    assert [item["file"]["id"] for item in listed] == [shown["id"]]
    staff_view = worker.get(f"/interventions/{intervention['id']}/attachments").json()["items"]
    assert {shown["id"], internal["id"]} <= {item["file"]["id"] for item in staff_view}
    for file in (internal, loose):
        error_of(customer.get(f"/files/{file['id']}"), 404)
        error_of(customer.get(f"/files/{file['id']}/thumbnail"), 404)

    # the client's copy: no EXIF, no GPS, at most 2048 px; the original stays the staff's
    copy = customer.get(f"/files/{shown['id']}")
    assert copy.status_code == 200 and copy.headers["Content-Type"] == "image/jpeg"
    assert copy.headers["Cache-Control"] == "private"
    original = worker.get(f"/files/{shown['id']}").content
    assert hashlib.sha256(original).hexdigest() == shown["sha256"] != hashlib.sha256(copy.content).hexdigest()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    for response, most in ((copy, 2048), (customer.get(f"/files/{shown['id']}/thumbnail"), 400)):
        assert response.status_code == 200
        image = Image.open(io.BytesIO(response.content))
        assert max(image.size) == most
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {} and dict(image.getexif()) == {}
        assert b"Exif\x00\x00" not in response.content

    # another client of the same company, a technician of another company: nothing
    neighbour = world.login_for("client", client_id=world.client(shop["company"])["id"])
    stranger_company = world.company()
    stranger = world.login_for("technician",
                               technician_id=world.technician(stranger_company)["id"])
    for user in (neighbour, stranger):
        error_of(user.get(f"/files/{shown['id']}"), 404)
        error_of(user.get(f"/interventions/{intervention['id']}/attachments"), 404)


def test_a_client_attaches_its_own_uploads_visible_to_it(shop):
    intervention, customer = shop["intervention"], shop["customer"]
    own = created_file(upload(customer, "photo", png(), "leak.png"))
    assert customer.get(f"/files/{own['id']}").status_code == 200
    error_of(attach(customer, intervention, own, False), 400)
    response = attach(customer, intervention, own, True)
    assert response.status_code == 201, response.text
    staff_file = created_file(upload(shop["worker"], "document", pdf(), "quote.pdf"))
    assert attach(shop["worker"], intervention, staff_file, True).status_code == 201
    error_of(attach(customer, intervention, staff_file, True), 403)  # visible, but not its own
    listed = customer.get(f"/interventions/{intervention['id']}/attachments?limit=1")
    page = listed.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = customer.get(f"/interventions/{intervention['id']}/attachments?after={page['next_cursor']}")
    assert own["id"] in {item["file"]["id"] for item in page["items"] + rest.json()["items"]}


def created_file(response):
    assert response.status_code == 201, response.text
    return response.json()


# --- the store is not open ----------------------------------------------------------------------

def test_the_store_refuses_an_unknown_key_and_serves_the_platform_s(seaweed, shop, store):
    file = created_file(upload(shop["manager"], "document", pdf(), "contract.pdf"))
    key = object_key(shop["company"]["id"], file["id"])
    stranger = boto3.client("s3", endpoint_url=seaweed.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="NOT" + uuid.uuid4().hex[:12].upper(),
                            aws_secret_access_key="guess",
                            config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 1}))
    anonymous = boto3.client("s3", endpoint_url=seaweed.endpoint_url, region_name="us-east-1",
                             config=Config(signature_version=botocore.UNSIGNED,
                                           s3={"addressing_style": "path"},
                                           retries={"max_attempts": 1}))
    for client, code in ((stranger, "InvalidAccessKeyId"), (anonymous, "AccessDenied")):
        with pytest.raises(ClientError) as caught:
            client.get_object(Bucket=seaweed.bucket, Key=key)
        assert caught.value.response["Error"]["Code"] == code
        with pytest.raises(ClientError):
            client.put_object(Bucket=seaweed.bucket, Key=key, Body=b"replaced")
    assert store.get(key).read() == pdf()


# --- what no row names: the sweep -------------------------------------------------------------

def test_the_sweep_removes_only_old_objects_no_row_names(world, admin, isolation, store):
    """What a gateway killed mid-upload leaves (an orphan object, an
    unfinished multipart upload) goes; a registered file's objects and
    anything younger than the cut-off stay."""
    from datetime import timedelta

    from fieldwork_common.pg import create_engine
    from fieldwork_interventions import files_sweep

    company = world.company()
    prefix = f"files/{company['id']}/"
    kept = world.file(kind="photo", data=png(), company_id=company["id"])
    orphan = object_key(company["id"], str(uuid.uuid4()))
    store.put_bytes(orphan, b"%PDF-1.4 left behind", "application/pdf")
    unfinished = store.writer(object_key(company["id"], str(uuid.uuid4())), "video/mp4", 50 * MiB,
                              part_size=5 * MiB)
    unfinished.write(mp4(6 * MiB))  # one part sent, never completed
    engine = create_engine(isolation.database_url("interventions"))
    try:
        young = files_sweep.sweep(engine, store, prefix=prefix)  # 24 h: all of it is too young
        assert young == {"deleted": [], "aborted": []}
        dry = files_sweep.sweep(engine, store, timedelta(0), prefix=prefix, dry_run=True)
        assert dry == {"deleted": [orphan], "aborted": [unfinished.key]}
        assert files_sweep.sweep(engine, store, timedelta(0), prefix=prefix) == dry
    finally:
        engine.dispose()
    assert sorted(store.keys(prefix)) == [object_key(company["id"], kept["id"], v)
                                          for v in ("client", "original", "thumbnail")]
    assert store.pending_uploads(prefix) == []
