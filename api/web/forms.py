"""Forms on the pages: a step's refusal shown next to its field, in the reader's language.

A page's POST handler hands its step to :func:`act`. The step is the same function the API
route calls; a refusal (the domain's, the text rule's, the store's) comes back as field
errors for the form to show again, and success waits for the views (read-your-writes), then
sends the browser on (POST, redirect, GET) with a short notice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Generic, TypeVar
from urllib.parse import quote

from fastapi import Form
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse

from api.errors import public_detail, status_for
from api.textguard import PAGE_REFUSAL
from api.web.i18n import N_, _
from docmgmt.bootstrap import Container
from docmgmt.domain.errors import DomainError
from storage import StorageError

T = TypeVar("T")

FORM = "_form"  # errors that belong to no one field, shown above the form

# The version a write form was shown at (hidden field), as the API's If-Match: a stale
# page gets the stale-version message; a value that is not a number is refused (422).
FormVersion = Annotated[int | None, Form()]

# Every error code the steps raise, in words a reader understands (translated when shown).
MESSAGES: dict[str, str] = {
    "active_content": N_("The PDF contains scripts, embedded files or other active content, "
                         "which an official document may not carry."),
    "agency_not_found": N_("That agency does not exist."),
    "already_exists": N_("That code or user name is already taken."),
    "blob_corrupted": N_("A stored file failed its integrity check; the operators have been "
                         "told."),
    "blob_not_found": N_("A stored file is missing; the operators have been told."),
    "blob_retained": N_("The file is under retention and cannot be removed."),
    "concurrent_write": N_("Someone else changed this at the same moment; reload and try "
                           "again."),
    "conflict": N_("This conflicts with the current state; reload and try again."),
    "document_not_found": N_("The document does not exist or you may not see it."),
    "document_withdrawn": N_("The sender has withdrawn this document."),
    "domain_error": N_("The request was refused."),
    "draft_already_signed": N_("This revision is already signed."),
    "empty_pdf": N_("The PDF has no pages."),
    "encrypted_pdf": N_("The PDF is encrypted or password-protected."),
    "evidence_mismatch": N_("The evidence does not match the record."),
    "evidence_not_ready": N_("The evidence is not ready yet; try again in a moment."),
    "file_too_large": N_("The file is larger than the system accepts."),
    "form_field_missing": N_("A required field is missing."),
    "invalid_credentials": N_("Wrong user name or password."),
    "invalid_input": N_("Some information is missing or not valid."),
    "invalid_state": N_("This step is not possible in the document's current state."),
    "invalid_text": N_("The text contains a control character or is not valid."),
    "invalid_webhook_url": N_("The address is not a valid HTTPS address."),
    "key_unavailable": N_("The signing key is not available now; try again later."),
    "last_admin": N_("The last administrator cannot be removed."),
    "malformed_pdf": N_("The file is not a readable PDF."),
    "mandate_in_force": N_("The mandate is already in force."),
    "mandate_not_in_force": N_("You have no audit mandate in force for this agency."),
    "not_a_pdf": N_("The file is not a PDF."),
    "not_an_auditor": N_("That user is not an auditor."),
    "not_found": N_("Not found, or you may not see it."),
    "number_out_of_range": N_("The number is out of range."),
    "pdf_page_tree_invalid": N_("The PDF's page structure is broken."),
    "pdf_too_complex": N_("The PDF is too complex to process safely."),
    "permission_denied": N_("Your role does not allow this."),
    "rejected_file": N_("The file cannot become an official document."),
    "revision_not_found": N_("That revision does not exist."),
    "revocation_unavailable": N_("The signer's certificate status cannot be checked now; try "
                                 "again later."),
    "signer_certificate_expired": N_("The signer's certificate has expired."),
    "signer_certificate_invalid": N_("The signer's certificate is not valid."),
    "signer_certificate_revoked": N_("The signer's certificate has been revoked."),
    "signer_certificate_untrusted": N_("The signer's certificate is not trusted."),
    "signing_failed": N_("The signature could not be made."),
    "stale_version": N_("Someone changed this document since you opened it; reload to see "
                        "the latest version."),
    "storage_unavailable": N_("The file store cannot be reached; try again later."),
    "text_too_long": N_("The text is too long."),
    "timestamp_unavailable": N_("The time-stamping service did not answer; try again later."),
    "too_many_attempts": N_("Too many failed sign-ins; wait a few minutes and try again."),
    "unit_not_found": N_("That unit does not exist."),
    "unsupported_character": N_("The text contains a character the system cannot store."),
    "user_not_found": N_("That user does not exist."),
    "version_not_found": N_("That version does not exist."),
    "webhook_cancelled": N_("The webhook has been cancelled."),
    "webhook_not_found": N_("That webhook does not exist."),
    "database_unavailable": N_("The database cannot be reached; try again in a moment."),
    "certificate_not_registered": N_("This certificate is not registered to you. Register it "
                                     "under “My certificates” first, or ask the administrator."),
    "certificate_not_found": N_("That certificate is not registered to this user."),
    "signature_mismatch": N_("The signature was not made by the chosen certificate's key over "
                             "this document's digest. Nothing was signed."),
    "signature_invalid": N_("The signature that came back does not validate. Nothing was "
                            "signed."),
    "signed_pdf_refused": N_("The uploaded PDF is not the prepared file plus exactly one "
                             "signature by you in your field. Nothing was signed."),
    "signature_request_expired": N_("The signature request expired before the signature came "
                                    "back. Nothing was signed; start again."),
    "signature_request_closed": N_("This signature request is no longer pending (it was "
                                   "answered, refused, expired or cancelled)."),
    "signature_request_not_found": N_("That signature request does not exist."),
    "signing_provider_unavailable": N_("The signing service did not answer; try again later."),
    "refused_by_signer": N_("The signature was declined at the signing service."),
    "csrf": N_("The form has expired. Reload the page and send it again."),
    "internal_error": N_("Something went wrong on the server; the operators have been told."),
    # Single sign-on.
    "local_passwords_off": N_("Signing in with a password is turned off here; sign in with "
                              "single sign-on (SSO)."),
    "sso_unknown_account": N_("No account in the system matches your single sign-on "
                              "identity; ask an administrator to create one."),
    "sso_account_disabled": N_("Your account is disabled; ask an administrator."),
    "sso_cancelled": N_("The sign-in at the single sign-on provider was cancelled or "
                        "refused."),
    "sso_state_mismatch": N_("The single sign-on has expired or was not started in this "
                             "browser; try again."),
    "invalid_oidc_token": N_("The single sign-on provider's answer could not be verified; "
                             "try again."),
    "sso_unavailable": N_("The single sign-on service cannot be reached; try again later."),
}
WEBHOOK_TARGET = N_("The webhook address is not allowed (it must be a public HTTPS address).")


def message_for(code: str) -> str:
    """The reader's message for an error code."""
    if code.startswith("webhook_target_"):
        return _(WEBHOOK_TARGET)
    return _(MESSAGES.get(code, MESSAGES["domain_error"]))


@dataclass
class FormErrors:
    """What to show next to each field; ``detail`` keeps the system's own words."""

    messages: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    status: int = 422

    def __bool__(self) -> bool:
        return bool(self.messages)

    def get(self, name: str) -> str:
        """The message for field ``name`` (empty when none)."""
        return self.messages.get(name, "")


def errors_from(exc: Exception, fields: Mapping[str, str] | None = None,
                default: str = FORM) -> FormErrors:
    """The form errors for a refusal: the field named by the error, else by its code
    (``fields``: code -> form field), else above the form."""
    code = str(getattr(exc, "code", "internal_error"))
    status = status_for(exc)
    named = str((getattr(exc, "context", None) or {}).get("field", ""))
    name = named.removeprefix("body.").removeprefix("query.")
    target = name if name and fields and name in fields.values() else \
        (fields or {}).get(code, default)
    detail = public_detail(exc, status) if isinstance(exc, DomainError | StorageError) else ""
    return FormErrors({target: message_for(code)}, detail, status)


def refused_text(request: Request) -> Exception | None:
    """The text rule's refusal of this form's body, recorded by the text guard."""
    refused = request.scope.get("state", {}).get(PAGE_REFUSAL)
    return refused if isinstance(refused, Exception) else None


@dataclass
class Outcome(Generic[T]):
    """What a step did: its result, or the errors to show with the form again."""

    result: T | None = None
    errors: FormErrors = field(default_factory=FormErrors)


def act(request: Request, step: Callable[[], T],
           fields: Mapping[str, str] | None = None, default: str = FORM) -> Outcome[T]:
    """Run a page's step: refused text, domain and storage refusals become form errors.

    Anything else (a dead database, an unexpected failure) is the page error handler's.
    """
    refused = refused_text(request)
    if refused is not None:
        return Outcome(errors=errors_from(refused, fields, default))
    try:
        return Outcome(result=step())
    except (DomainError, StorageError) as exc:
        return Outcome(errors=errors_from(exc, fields, default))


async def settled(c: Container, position: int | None, path: str,
                  notice: str | None = None) -> RedirectResponse:
    """After a step: wait (in a worker thread, never on the event loop) until the views show
    its events, then send the browser on with a notice (POST, redirect, GET)."""
    await run_in_threadpool(c.wait_for_view, position)
    return see_other(path, notice)


def see_other(path: str, notice: str | None = None) -> RedirectResponse:
    """Send the browser on after a successful form (with a notice key to show there)."""
    if notice:
        path += ("&" if "?" in path else "?") + "notice=" + quote(notice)
    return RedirectResponse(path, status_code=303)


# Notices shown after a redirect, by key; an unknown key shows nothing.
NOTICES: dict[str, str] = {
    "signed_in": N_("Welcome."),
    "saved": N_("Saved."),
    "created": N_("Created."),
    "submitted": N_("Submitted for approval."),
    "approved": N_("Approved."),
    "returned": N_("Returned with your comment."),
    "signed": N_("Signed."),
    "numbered": N_("Numbered."),
    "sealed": N_("Sealed."),
    "dispatched": N_("Dispatched."),
    "recalled": N_("Recalled."),
    "registered": N_("Registered."),
    "assigned": N_("Assigned."),
    "completed": N_("Completed."),
    "commented": N_("Comment added."),
    "revised": N_("New revision uploaded."),
    "language": N_("Language changed."),
    "unit_added": N_("Unit added."),
    "place_name_set": N_("Place name saved."),
    "user_created": N_("User created."),
    "roles_changed": N_("Roles changed; the user signs in again."),
    "deactivated": N_("Account disabled."),
    "reactivated": N_("Account enabled again."),
    "password_reset": N_("Password set; the user's sessions have ended."),
    "mandate_granted": N_("Audit mandate granted."),
    "mandate_revoked": N_("Audit mandate revoked."),
    "oversight_granted": N_("Oversight mandate granted."),
    "oversight_revoked": N_("Oversight mandate revoked."),
    "calendar_saved": N_("Calendar saved."),
    "webhook_created": N_("Webhook created."),
    "webhook_cancelled": N_("Webhook cancelled."),
    "appendix_attached": N_("Appendix attached."),
    "linked": N_("Link to the earlier document recorded."),
    "returned_to_sender": N_("Returned to the sender."),
    "withdrawal_confirmed": N_("Withdrawal confirmed to the sender."),
    "progress_recorded": N_("Progress recorded."),
    "extension_requested": N_("Extension requested."),
    "extension_decided": N_("Extension decision recorded."),
    "signature_requested": N_("Signature request opened."),
    "signature_cancelled": N_("Signature request cancelled."),
    "certificate_registered": N_("Certificate registered."),
    "certificate_removed": N_("Certificate removed; it can no longer sign."),
}


def notice_for(key: str | None) -> str:
    """The translated notice for a redirect's key (empty for none or unknown)."""
    return _(NOTICES[key]) if key in NOTICES else ""
