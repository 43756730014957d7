"""The admin's oversight mandates, on a user's admin page: give a user oversight of an
agency and every agency below it for a term, or withdraw it (the same steps as the API's
/oversight/mandates routes)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import ContainerDep
from api.routing import ThreadedRoute
from api.web.pages.admin import Text, _admin, _user_step, _uuid, _vietnam_moment
from api.web.session import Session
from docmgmt.domain.errors import AgencyNotFoundError, DomainError
from docmgmt.kernel.store import CommandResult
from docmgmt.oversight.mandates import grant_oversight_mandate, revoke_oversight_mandate

router = APIRouter(prefix="/app", include_in_schema=False, route_class=ThreadedRoute)

# The grant form's fields carry a prefix: the audit mandate's form on the same page has
# the plain names (and the fields' ids follow their names).
P = "oversight_"
# Where a refusal of the grant form shows (by error code); anything else goes above it.
GRANT_FIELDS = {"agency_not_found": P + "agency_id", "mandate_in_force": P + "agency_id",
                "text_too_long": P + "legal_basis", "invalid_text": P + "legal_basis",
                "invalid_input": P + "legal_basis", "valid_from": P + "valid_from",
                "valid_to": P + "valid_to"}


@router.post("/admin/users/{user_id}/oversight-mandates")
async def grant(request: Request, session: Session, c: ContainerDep, user_id: UUID,
                oversight_agency_id: Text = "", oversight_legal_basis: Text = "",
                oversight_valid_from: Text = "", oversight_valid_to: Text = "") -> Response:
    """Giao quyền giám sát / Give the user oversight of an agency (and those below it) for a
    term."""
    who = _admin(session)
    form = {"agency_id": oversight_agency_id, "legal_basis": oversight_legal_basis,
            "valid_from": oversight_valid_from, "valid_to": oversight_valid_to}

    def step() -> CommandResult:
        try:
            agency = _uuid(oversight_agency_id)
            if agency is None:
                raise AgencyNotFoundError("choose an agency", field="agency_id")
            return grant_oversight_mandate(
                c.write.app, who, user_id, agency, legal_basis=oversight_legal_basis,
                valid_from=_vietnam_moment(oversight_valid_from, "valid_from"),
                valid_to=_vietnam_moment(oversight_valid_to, "valid_to"))
        except DomainError as exc:  # the refusal names the step's field: the form's is P+
            if "field" in exc.context:
                exc.context["field"] = P + str(exc.context["field"])
            raise

    return await _user_step(request, session, c, user_id, "oversight", step,
                            "oversight_granted", GRANT_FIELDS, "legal_basis", form)


@router.post("/admin/users/{user_id}/oversight-mandates/{agency_id}/revoke")
async def revoke(request: Request, session: Session, c: ContainerDep, user_id: UUID,
                 agency_id: UUID) -> Response:
    """Thu hồi quyền giám sát / Withdraw the user's oversight of an agency (at once)."""
    who = _admin(session)
    # Each row's reason field has its own name (and so its own id and label).
    field = f"oversight-reason-{agency_id}"
    reason = str((await request.form()).get(field, ""))
    return await _user_step(
        request, session, c, user_id, f"oversight-revoke-{agency_id}",
        lambda: revoke_oversight_mandate(c.write.app, who, user_id, agency_id, reason),
        "oversight_revoked", {}, field, {"reason": reason})
