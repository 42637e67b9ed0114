"""The files wing (issue 9 §3, docs/files.md): the metadata of files whose
bytes the gateway streams to the object store, who may read them, and the
files attached to interventions.

The gateway asks `prepare_upload` before it writes a byte (whose company,
which limit, which types), streams, then calls `register_file`; it reads a
file through `file_download`: its metadata in the caller's scope and the
object to stream to this caller. `attach_file` is the first command that
references files: the file is resolved in the caller's scope like every
other id (access.resolve).
"""
import uuid

import sqlalchemy as sa
from fieldwork_common import files as object_store
from fieldwork_common.commands import command
from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput
from fieldwork_common.pagination import page
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import as_dict, is_uuid

from fieldwork_interventions.access import resolve, visible
from fieldwork_interventions.changes import Change, InterventionChanges, now
from fieldwork_interventions.domain import files as rules
from fieldwork_interventions.domain.rules import can_work_on, require_active
from fieldwork_interventions.models import Attachment, Client, Company, File, Technician

# a value that is not a positive number stops the service at its start
POLICY = rules.policy_from()

FILE_FIELDS = ("id", "company_id", "kind", "content_type", "size", "sha256", "original_name",
               "uploaded_by", "created_at")
ATTACHMENT_FIELDS = ("visible_to_client", "attached_by", "attached_at")


def file_record(row):
    """A file as answered (never its object keys: those stay inside)."""
    result = as_dict(row, FILE_FIELDS)
    result["has_thumbnail"] = row.thumbnail_key is not None
    return result


def attachment_record(attachment, row):
    return {"file": file_record(row), "intervention_id": attachment.intervention_id,
            **as_dict(attachment, ATTACHMENT_FIELDS)}


class Files(InterventionChanges):
    """Mixed into InterventionsService (needs `db` and `principal`)."""

    policy = POLICY

    def _upload_company(self, s, company_id):
        """The company a file of this caller belongs to (domain/files.py),
        resolved in the caller's scope: 404 for one it may not see, 400 for
        a deactivated one."""
        p = self.principal
        if p is None:
            raise Forbidden("Files are uploaded by logins.")
        if company_id is not None and not is_uuid(company_id):
            raise InvalidInput("company_id must be an id (a UUID).", {"company_id": company_id})
        own = p.company_id
        if p.role == "client":
            client = s.get(Client, p.client_id) if is_uuid(p.client_id) else None
            if client is None:
                raise Forbidden("This client login is linked to no client.")
            require_active(client=client)
            own = client.company_id
        elif p.role == "technician" and own is None and is_uuid(p.technician_id):
            own = s.scalar(sa.select(Technician.company_id).where(Technician.id == p.technician_id))
        wanted = rules.upload_company(p.role, company_id, own)
        if p.role == "client" or wanted == own:
            company = s.get(Company, wanted)
            require_active(company=company)
            return company
        return resolve(s, p, "company", wanted, "company_id")

    @rpc
    def prepare_upload(self, kind, company_id=None):
        """Any login, before the gateway writes a byte: the company the file
        will belong to, the kind's limit and accepted content types."""
        rules.check_kind(kind)
        with self.db.session() as s:
            company = self._upload_company(s, company_id)
            return {**self.policy.describe(kind), "company_id": company.id}

    @rpc
    @command
    def register_file(self, uow, file_id, kind, content_type, size, sha256, company_id=None,
                      original_name=None, thumbnail=False, client_copy=False):
        """Any login: the metadata of a file the gateway has stored (its
        objects must be in the store, of that size). Checks again what
        prepare_upload said. No event: a file means something once it is
        attached."""
        s = uow.session
        if not is_uuid(file_id):
            raise InvalidInput("file_id must be an id (a UUID).", {"file_id": file_id})
        file_id = str(uuid.UUID(str(file_id)))
        company = self._upload_company(s, company_id)
        self.policy.check(kind, content_type, size)
        rules.check_sha256(sha256)
        if (thumbnail or client_copy) and not rules.has_derivatives(content_type):
            raise InvalidInput("Only JPEG, PNG and WebP images have derivatives.",
                               {"content_type": content_type})
        keys = {variant: object_store.object_key(company.id, file_id, variant)
                for variant, wanted in (("original", True), ("thumbnail", thumbnail),
                                        ("client", client_copy)) if wanted}
        self._check_stored(keys, size)
        if s.get(File, file_id) is not None:
            raise Conflict("A file with this id exists.", {"file_id": file_id})
        row = File(id=file_id, company_id=company.id, uploaded_by=self.principal.user_id,
                   uploaded_by_role=self.principal.role, kind=kind, content_type=content_type,
                   size=size, sha256=sha256, original_name=rules.clean_name(original_name),
                   original_key=keys["original"], thumbnail_key=keys.get("thumbnail"),
                   client_key=keys.get("client"))
        s.add(row)
        s.flush()
        return file_record(row)

    def _check_stored(self, keys, size):
        """Nothing is registered that the store does not hold."""
        objects = object_store.store()
        missing = []
        for variant, key in keys.items():
            found = objects.head(key)
            if found is None or (variant == "original" and found[0] != size):
                missing.append(variant)
        if missing:
            raise InvalidInput("The file's bytes are not in the store as described.",
                               {"missing": missing})

    @rpc
    def file_download(self, file_id, variant="original"):
        """A file's metadata read with the access check (404 for a file the
        caller may not see, access.scope("file")), and what the gateway
        streams to this caller: the object's key and which variant it is (a
        client gets an image's copy without EXIF/GPS)."""
        if variant not in ("original", "thumbnail"):
            raise InvalidInput("variant is original or thumbnail.", {"variant": variant})
        with self.db.session() as s:
            row = visible(s, self.principal, "file", file_id)
            served = rules.served_variant(self.principal.role if self.principal else None, variant,
                                          row.content_type, row.thumbnail_key is not None,
                                          row.client_key is not None)
            key = {"original": row.original_key, "thumbnail": row.thumbnail_key,
                   "client": row.client_key}[served]
            return {"file": file_record(row), "variant": served, "key": key}

    @rpc
    @command
    def attach_file(self, uow, intervention_id, file_id, visible_to_client):
        """Attach a file to an intervention: admin, the company's manager,
        its technician, or its client (its own uploads, visible to it). The
        file is resolved in the caller's scope (404) and must be of the
        intervention's company (400); twice is 409. The intervention's
        version stays (attachments are not among its fields); the history
        records it. Publishes intervention.file_attached."""
        found = {}

        def decide(s, intervention):
            p = self.principal
            if p.role != "client" and not can_work_on(p, intervention):
                raise Forbidden("Only staff and the intervention's client attach files.")
            row = resolve(s, p, "file", file_id, "file_id")
            rules.check_attachment(p.role, visible_to_client, row.uploaded_by, p.user_id,
                                   row.company_id, intervention.company_id)
            if s.get(Attachment, (intervention.id, row.id)) is not None:
                raise Conflict("This file is attached to this intervention already.",
                               {"file_id": row.id, "intervention_id": intervention.id})
            at = now()
            attachment = Attachment(intervention_id=intervention.id, file_id=row.id,
                                    visible_to_client=visible_to_client, attached_by=p.user_id,
                                    attached_at=at)
            s.add(attachment)
            s.flush()
            found.update(attachment=attachment, file=row)
            return Change("attachment", {"file_id": row.id, "kind": row.kind,
                                         "visible_to_client": visible_to_client}, at=at,
                          events=lambda i: [("intervention.file_attached", {
                              "id": i.id, "company_id": i.company_id, "client_id": i.client_id,
                              "technician_id": i.technician_id, "file_id": row.id,
                              "kind": row.kind, "content_type": row.content_type,
                              "visible_to_client": visible_to_client, "at": rfc3339(at),
                              "by": p.user_id})])
        self._change(uow, intervention_id, decide, versioned=False)
        return attachment_record(found["attachment"], found["file"])

    @rpc
    def list_attachments(self, intervention_id, limit=None, after=None):
        """An intervention's files, newest first, for whoever sees the
        intervention; a client only those visible to it."""
        with self.db.session() as s:
            intervention = visible(s, self.principal, "intervention", intervention_id)
            query = sa.select(Attachment).where(Attachment.intervention_id == intervention.id)
            if self.principal is not None and self.principal.role == "client":
                query = query.where(Attachment.visible_to_client.is_(True))
            rows, cursor = page(s, query, limit=limit, after=after,
                                keys=(Attachment.attached_at, Attachment.file_id))
            by_id = {f.id: f for f in s.scalars(
                sa.select(File).where(File.id.in_([a.file_id for a in rows])))} if rows else {}
            return {"items": [attachment_record(a, by_id[a.file_id]) for a in rows],
                    "next_cursor": cursor}
