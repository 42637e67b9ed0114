"""The rules of accounts (fieldwork_gateway.wings.accounts.rules), without a
database: who may grant what, passwords, links, throttling."""
from datetime import datetime, timedelta, timezone

import pytest

from fieldwork_common.errors import Forbidden, InvalidInput, NotFound
from fieldwork_common.principal import Principal
from fieldwork_gateway.wings.accounts import rules

A, B = "0000000a-0000-0000-0000-000000000000", "0000000b-0000-0000-0000-000000000000"
PLATFORM = Principal(user_id="p", role="admin")
ADMIN_A = Principal(user_id="aa", role="admin", company_id=A)
MANAGER_A = Principal(user_id="ma", role="manager", company_id=A)
TECHNICIAN_A = Principal(user_id="ta", role="technician", company_id=A, technician_id="t")
CLIENT_A = Principal(user_id="ca", role="client", company_id=A, client_id="c")


@pytest.mark.parametrize("caller,role,company,expected", [
    (PLATFORM, "admin", None, None),           # a platform admin grants everything
    (PLATFORM, "manager", B, None),
    (ADMIN_A, "admin", A, None),               # a company admin: any role of its company
    (ADMIN_A, "manager", A, None),
    (ADMIN_A, "client", A, None),
    (ADMIN_A, "admin", None, Forbidden),       # the hole: never a platform admin
    (ADMIN_A, "admin", B, NotFound),           # another company does not exist for it
    (ADMIN_A, "client", B, NotFound),
    (MANAGER_A, "client", A, None),            # a manager: client logins of its company
    (MANAGER_A, "client", B, NotFound),
    (MANAGER_A, "technician", A, Forbidden),
    (MANAGER_A, "manager", A, Forbidden),
    (MANAGER_A, "admin", A, Forbidden),
    (TECHNICIAN_A, "client", A, Forbidden),    # technicians and clients grant nothing
    (CLIENT_A, "client", A, Forbidden),
])
def test_a_caller_grants_only_what_it_holds(caller, role, company, expected):
    target = {"role": role, "company_id": company}
    if expected is None:
        rules.check_grant(caller, target)
    else:
        with pytest.raises(expected):
            rules.check_grant(caller, target)


def user(role="client", company=A, user_id="u"):
    return {"id": user_id, "role": role, "company_id": company}


def test_logins_are_seen_within_the_callers_company():
    assert rules.sees_user(PLATFORM, user(company=None))
    assert rules.sees_user(ADMIN_A, user()) and rules.sees_user(MANAGER_A, user())
    assert not rules.sees_user(ADMIN_A, user(company=B))
    assert not rules.sees_user(ADMIN_A, user(role="admin", company=None))  # a platform admin
    assert not rules.sees_user(TECHNICIAN_A, user()) and not rules.sees_user(CLIENT_A, user())


def test_nobody_changes_their_own_role_links_or_active_state():
    me = user(role="admin", user_id="aa")
    for changes in ({"role": "manager"}, {"active": False}, {"company_id": B}, {"client_id": "c"}):
        with pytest.raises(Forbidden):
            rules.check_change(ADMIN_A, me, changes)
    rules.check_change(ADMIN_A, me, {"locale": "en", "email": "new@example.test"})


def test_a_manager_changes_client_logins_only():
    rules.check_change(MANAGER_A, user("client"), {"active": False})
    with pytest.raises(Forbidden):
        rules.check_change(MANAGER_A, user("technician"), {"active": False})
    with pytest.raises(NotFound):
        rules.check_change(MANAGER_A, user("client", company=B), {"active": False})


@pytest.mark.parametrize("state,field", [
    ({"role": "client"}, "client_id"),
    ({"role": "technician"}, "technician_id"),
    ({"role": "manager"}, "company_id"),
    ({"role": "admin", "client_id": "c"}, "client_id"),
    ({"role": "client", "client_id": "c", "technician_id": "t"}, "technician_id"),
])
def test_links_fit_the_role(state, field):
    with pytest.raises(InvalidInput) as raised:
        rules.check_links(state)
    assert field in raised.value.details["fields"]


def test_a_new_role_drops_the_links_it_does_not_carry():
    current = {"role": "technician", "technician_id": "t", "client_id": None, "company_id": A}
    state = rules.after_role_change(current, {"role": "manager"})
    assert state == {"role": "manager", "technician_id": None, "client_id": None, "company_id": A}
    assert rules.after_role_change(current, {"locale": "en"})["technician_id"] == "t"


def test_the_login_of_a_technician_belongs_to_one_of_its_companies():
    technician = {"id": "t", "company_id": A, "company_ids": [A, B]}
    assert rules.company_of_link("technician_id", technician, None) == A
    assert rules.company_of_link("technician_id", technician, B) == B
    with pytest.raises(InvalidInput):
        rules.company_of_link("client_id", {"id": "c", "company_id": A}, B)


COMMON = rules.load_common_passwords()


@pytest.mark.parametrize("password,problem", [
    ("short", "at least 10 characters"),
    ("marie.curie@example.org", "not the email address"),
    ("Marie.Curie", "not the email address"),             # its local part, any case
    ("qwertyuiop", "not a common password"),
    ("Password123", "not a common password"),
])
def test_passwords_are_refused_with_the_reason(password, problem):
    assert problem in rules.password_problems(password, "marie.curie@example.org", COMMON)


def test_a_good_password_passes_and_the_shipped_list_is_loaded():
    assert rules.password_problems("correct horse battery", "marie@example.org", COMMON) == []
    assert len(COMMON) > 1000 and all(len(word) >= 10 for word in COMMON)


def test_an_operator_adds_a_list_of_its_own(tmp_path):
    extra = tmp_path / "ours.txt"
    extra.write_text("# ours\nFieldwork2026!\n")
    assert "not a common password" in rules.password_problems(
        "fieldwork2026!", "x@example.org", rules.load_common_passwords(extra))


def test_a_link_works_once_and_until_it_expires():
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    link = {"used_at": None, "revoked_at": None, "expires_at": now + timedelta(hours=1)}
    assert rules.link_state(link, now) == "usable"
    assert rules.link_state({**link, "used_at": now}, now) == "used"
    assert rules.link_state({**link, "revoked_at": now}, now) == "revoked"
    assert rules.link_state(link, now + timedelta(hours=1)) == "expired"


def test_secrets_are_random_and_only_their_hash_is_kept():
    first, second = rules.new_secret(), rules.new_secret()
    assert first != second and len(first) >= 43
    assert rules.secret_hash(first) == rules.secret_hash(first) != first


def test_the_lock_starts_at_the_fifth_failure_and_doubles_up_to_its_cap():
    throttle = rules.Throttle(max_failures=5, base=30, cap=900)
    assert [throttle.lock_seconds(n) for n in range(1, 11)] == [
        0, 0, 0, 0, 30, 60, 120, 240, 480, 900]


def test_the_count_starts_over_after_a_quiet_window():
    throttle = rules.Throttle(window=900)
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    assert throttle.counts_from(4, now - timedelta(minutes=10), None, now) == 4
    assert throttle.counts_from(4, now - timedelta(minutes=16), None, now) == 0
    # quiet counts from the end of the lock, not from the last failure
    assert throttle.counts_from(6, now - timedelta(minutes=20), now - timedelta(minutes=10), now) == 6
