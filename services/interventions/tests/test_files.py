"""The files wing's rules (domain/files.py) and the RPCs that refuse before
touching the database or the store (nameko's worker_factory, FakeDb)."""
import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.errors import (Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge,
                                     UnsupportedMediaType)
from fieldwork_common.principal import Principal
from fieldwork_common.testing.fakes import FakeDb
from fieldwork_interventions.domain import files as rules
from fieldwork_interventions.service import InterventionsService

MiB = 1024 * 1024


def test_every_kind_is_limited_to_25_mib_but_a_signature_to_1_by_default():
    assert rules.policy_from({}).limits == {"photo": 25 * MiB, "video": 25 * MiB,
                                            "document": 25 * MiB, "signature": 1 * MiB}


def test_the_limits_are_set_for_every_kind_or_for_one():
    policy = rules.policy_from({"FILES_MAX_BYTES": str(100 * MiB), "FILES_MAX_BYTES_PHOTO": "1000"})
    assert policy.limits == {"photo": 1000, "video": 100 * MiB, "document": 100 * MiB,
                             "signature": 1 * MiB}
    # a general limit below a kind's default lowers it too
    assert rules.policy_from({"FILES_MAX_BYTES": "500"}).limits["signature"] == 500


@pytest.mark.parametrize("value", ["ten", "0", "-3", "1.5"])
def test_a_limit_that_is_not_a_positive_number_stops_the_start(value):
    with pytest.raises(ValueError):
        rules.policy_from({"FILES_MAX_BYTES_VIDEO": value})


def test_an_unknown_kind_is_400_naming_the_kinds():
    with pytest.raises(InvalidInput) as caught:
        rules.policy_from({}).describe("selfie")
    assert caught.value.details == {"kind": "selfie",
                                    "kinds": ["photo", "video", "document", "signature"]}


def test_the_policy_of_a_kind_is_what_the_gateway_streams_with():
    assert rules.policy_from({}).describe("signature") == {
        "kind": "signature", "max_bytes": 1 * MiB, "accepted": ["image/png"],
        "derivatives": ["image/png"]}
    assert rules.policy_from({}).describe("video")["derivatives"] == []


@pytest.mark.parametrize("kind, content_type", [
    ("photo", "image/jpeg"), ("photo", "image/heic"), ("video", "video/quicktime"),
    ("document", "application/pdf"), ("document", "image/png"), ("signature", "image/png")])
def test_each_kind_accepts_its_types(kind, content_type):
    rules.policy_from({}).check(kind, content_type, 100)


@pytest.mark.parametrize("kind, content_type", [
    ("photo", "application/pdf"), ("video", "image/jpeg"), ("signature", "image/jpeg"),
    ("document", "application/zip"), ("photo", "image/gif")])
def test_a_type_the_kind_does_not_accept_is_415_with_the_accepted_ones(kind, content_type):
    with pytest.raises(UnsupportedMediaType) as caught:
        rules.policy_from({}).check(kind, content_type, 100)
    assert caught.value.http_status == 415
    assert caught.value.details["accepted"] == list(rules.ACCEPTED[kind])


def test_a_size_over_the_kind_s_limit_is_413_with_the_limit():
    policy = rules.policy_from({})
    policy.check("signature", "image/png", 1 * MiB)
    with pytest.raises(PayloadTooLarge) as caught:
        policy.check("signature", "image/png", 1 * MiB + 1)
    assert caught.value.http_status == 413
    assert caught.value.details == {"kind": "signature", "limit_bytes": 1 * MiB,
                                    "size": 1 * MiB + 1}


@pytest.mark.parametrize("size", [0, -1, "12", True, None])
def test_a_size_is_a_positive_integer(size):
    with pytest.raises(InvalidInput):
        rules.policy_from({}).check("photo", "image/png", size)


@pytest.mark.parametrize("value", ["A" * 64, "0" * 63, None, 12, "g" * 64])
def test_a_sha256_is_64_lower_case_hex_digits(value):
    with pytest.raises(InvalidInput):
        rules.check_sha256(value)


@pytest.mark.parametrize("given, kept", [
    ("photo.jpg", "photo.jpg"), ("../../etc/passwd", "passwd"), ("C:\\Users\\me\\scan.pdf", "scan.pdf"),
    ("bad\x00na\x1fme.png", "badname.png"), ("   ", None), ("", None), (None, None),
    ("é" * 300, "é" * 255)])
def test_a_file_name_is_kept_as_a_name_never_a_path(given, kept):
    assert rules.clean_name(given) == kept


def test_derivatives_are_for_the_images_pillow_decodes():
    assert [t for t in rules.PHOTOS if rules.has_derivatives(t)] == [
        "image/jpeg", "image/png", "image/webp"]
    assert not rules.has_derivatives("application/pdf")


# --- whose company a file belongs to --------------------------------------------

def test_a_client_uploads_for_its_own_company_only():
    assert rules.upload_company("client", None, "c1") == "c1"
    assert rules.upload_company("client", "c1", "c1") == "c1"
    with pytest.raises(NotFound) as caught:
        rules.upload_company("client", "c2", "c1")
    assert caught.value.details == {"company_id": "c2"}


def test_staff_upload_for_their_company_or_one_they_name():
    assert rules.upload_company("manager", None, "c1") == "c1"
    assert rules.upload_company("technician", "c2", "c1") == "c2"  # resolved by the service next


def test_an_admin_of_the_whole_platform_names_the_company():
    with pytest.raises(InvalidInput) as caught:
        rules.upload_company("admin", None, None)
    assert caught.value.details == {"company_id": "required"}
    assert rules.upload_company("admin", "c9", None) == "c9"


# --- attaching and reading ------------------------------------------------------------

def test_a_file_attaches_only_to_an_intervention_of_its_company():
    rules.check_attachment("technician", False, "u2", "u1", "c1", "c1")
    with pytest.raises(InvalidInput) as caught:
        rules.check_attachment("admin", True, "u1", "u1", "c1", "c2")
    assert caught.value.details == {"file_company_id": "c1", "intervention_company_id": "c2"}


def test_a_client_attaches_what_it_uploaded_and_sees_it():
    rules.check_attachment("client", True, "u1", "u1", "c1", "c1")
    with pytest.raises(Forbidden):
        rules.check_attachment("client", True, "staff", "u1", "c1", "c1")
    with pytest.raises(InvalidInput):
        rules.check_attachment("client", False, "u1", "u1", "c1", "c1")


@pytest.mark.parametrize("value", ["true", 1, None])
def test_visible_to_client_is_a_boolean(value):
    with pytest.raises(InvalidInput):
        rules.check_attachment("admin", value, "u1", "u1", "c1", "c1")


def test_a_client_reads_an_image_s_copy_without_location_never_its_original():
    assert rules.served_variant("client", "original", "image/jpeg", True, True) == "client"
    assert rules.served_variant("manager", "original", "image/jpeg", True, True) == "original"
    assert rules.served_variant("client", "original", "application/pdf", False, False) == "original"
    with pytest.raises(Conflict):
        rules.served_variant("client", "original", "image/heic", False, False)
    assert rules.served_variant("technician", "original", "image/heic", False, False) == "original"


def test_only_decoded_images_have_a_thumbnail():
    assert rules.served_variant("client", "thumbnail", "image/png", True, True) == "thumbnail"
    with pytest.raises(NotFound):
        rules.served_variant("admin", "thumbnail", "video/mp4", False, False)


# --- RPCs that refuse before the database or the store --------------------------------

def service_for(role, **links):
    db = FakeDb()
    return worker_factory(InterventionsService, db=db,
                          principal=Principal(user_id="u", role=role, **links)), db


def test_an_unknown_kind_is_refused_before_anything_is_read():
    service, db = service_for("manager", company_id="c")
    with pytest.raises(InvalidInput):
        service.prepare_upload("selfie")
    assert db.committed == []


@pytest.mark.parametrize("file_id", ["not-a-uuid", None, 12])
def test_registering_a_file_needs_an_id(file_id):
    service, db = service_for("manager", company_id="c")
    with pytest.raises(InvalidInput):
        service.register_file(file_id, "photo", "image/png", 10, "0" * 64)
    assert db.committed == []


def test_a_download_names_the_original_or_the_thumbnail():
    service, db = service_for("manager", company_id="c")
    with pytest.raises(InvalidInput):
        service.file_download("00000000-0000-4000-8000-000000000000", variant="client")
