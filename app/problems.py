"""What each stable error ``code`` means and how to fix it: the pages behind the problem ``type`` URIs.

Every problem paybridge answers has ``type`` = ``{PAYBRIDGE_PUBLIC_BASE_URL}/problems/{code}``;
``GET /problems/{code}`` serves the entry below as HTML, JSON or Markdown, and ``GET /problems``
lists them all. ``tests/test_docs_errors.py`` fails when a code raised anywhere in ``app`` has no
entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProblemDoc:
    code: str
    status: int
    title: str
    meaning: str
    fix: str

    def as_json(self, type_uri: str) -> dict[str, object]:
        return {
            "type": type_uri,
            "code": self.code,
            "status": self.status,
            "title": self.title,
            "meaning": self.meaning,
            "fix": self.fix,
        }

    def as_markdown(self, type_uri: str) -> str:
        return (
            f"# `{self.code}` — {self.title} (HTTP {self.status})\n\n"
            f"Type URI: <{type_uri}>\n\n"
            f"## What it means\n\n{self.meaning}\n\n"
            f"## How to fix it\n\n{self.fix}\n"
        )


_DOCS = [
    # ------------------------------------------------------------------ the request itself
    ProblemDoc(
        "bad_request",
        400,
        "Bad request",
        "The request is malformed in a way that is not about one field: a malformed `Idempotency-Key` "
        "(not 1–255 printable ASCII characters), or a parameter that cannot be used as sent.",
        "Read `detail`: it names what is wrong. Send an `Idempotency-Key` of 1–255 printable ASCII "
        "characters, e.g. a UUID you generate per operation.",
    ),
    ProblemDoc(
        "validation_error",
        422,
        "Validation failed",
        "The body, query or path does not match the schema or a business rule: a missing or "
        "unknown field, a float or string where an integer VND amount is expected, items that do not "
        "add up to `amount`, a `return_url` that is not https, an agency outside your scope, a body "
        "that is not valid JSON, or a body sent without `Content-Type: application/json`. `errors` "
        "lists every problem as `{field, message}`; `field` is a path such as `items[0].amount`.",
        "Correct each field named in `errors` and send the request again. Amounts are integers in "
        'VND (`50000`, never `50000.0` or `"50000"`). Send JSON bodies with '
        "`Content-Type: application/json`. The schemas and examples are at `/docs`.",
    ),
    ProblemDoc(
        "payload_too_large",
        413,
        "Request body too large",
        "The body is larger than paybridge accepts (`PAYBRIDGE_MAX_BODY_BYTES`, 256 KiB by default; "
        "reconciliation files have their own, larger limit, `PAYBRIDGE_MAX_UPLOAD_BYTES`). "
        "`detail` says the limit.",
        "Send a smaller body: split a catalogue import into several files, or ask the operator to "
        "raise the limit.",
    ),
    ProblemDoc(
        "unsupported_media_type",
        415,
        "Unsupported media type",
        "The body's `Content-Type` is not one this endpoint reads.",
        "Send JSON with `Content-Type: application/json`; catalogue imports also take `text/csv`, "
        "reconciliation uploads `multipart/form-data` or `text/csv`.",
    ),
    ProblemDoc(
        "not_acceptable",
        406,
        "Not acceptable",
        "The `Accept` header asks for a format this endpoint cannot produce (a receipt is HTML, PDF "
        "or JSON).",
        "Ask for one of the formats the endpoint lists (`?format=pdf`, `?format=html`, or "
        "`Accept: application/json`).",
    ),
    ProblemDoc(
        "method_not_allowed",
        405,
        "Method not allowed",
        "The path exists but not with this HTTP method. The `Allow` header lists the methods it takes.",
        "Use a method from the `Allow` header; the operations are listed at `/docs`.",
    ),
    ProblemDoc(
        "not_found",
        404,
        "Not found",
        "Nothing at this path, or the resource is not among your agencies' (a client never learns "
        "whether another client's payment exists).",
        "Check the id and the path. A payment, refund or agency of an agency outside your API key's "
        "subtrees answers 404 on purpose.",
    ),
    ProblemDoc(
        "http_error",
        400,
        "HTTP error",
        "An HTTP-level refusal with no more specific code.",
        "Read `detail` and `status`; if it persists, quote the `X-Request-ID` response header to the "
        "operator.",
    ),
    # ------------------------------------------------------------------ who is asking
    ProblemDoc(
        "unauthorized",
        401,
        "Authentication required",
        "No `Authorization: Bearer …` header, or the API key (or operator token) is unknown, "
        "expired (an older key past its rotation grace period) or its client is disabled.",
        "Send `Authorization: Bearer <api key>`. After a key rotation switch to the new key before "
        "the grace period ends; ask the operator when the client is disabled.",
    ),
    ProblemDoc(
        "forbidden",
        403,
        "Forbidden",
        "You are authenticated but this action is not yours to take.",
        "Use the credentials of the client or operator that owns the resource.",
    ),
    ProblemDoc(
        "rate_limited",
        429,
        "Too many requests",
        "Too many failed authentications (or requests) from this address in a short time.",
        "Wait the number of seconds in `Retry-After`, then retry with a correct key. Do not retry "
        "failed authentications in a loop.",
    ),
    ProblemDoc(
        "admin_disabled",
        503,
        "Operator API disabled",
        "The operator API (`/admin/v1`) is off because `PAYBRIDGE_ADMIN_TOKEN` is empty.",
        "Set `PAYBRIDGE_ADMIN_TOKEN` (at least 32 random characters in production) and restart; "
        "then send it as `Authorization: Bearer <token>`.",
    ),
    # ------------------------------------------------------------------ idempotency
    ProblemDoc(
        "metrics_disabled",
        503,
        "Metrics disabled",
        "`GET /metrics` is off: in production it needs `PAYBRIDGE_METRICS_TOKEN`, and none is set.",
        "Set `PAYBRIDGE_METRICS_TOKEN` (at least 24 random characters) and restart; configure "
        "Prometheus to send it as `Authorization: Bearer <token>` (`authorization: {credentials: …}` in "
        "the scrape config).",
    ),
    ProblemDoc(
        "idempotency_key_missing",
        400,
        "Idempotency-Key required",
        "Creating a payment or a refund needs an `Idempotency-Key` header so that a retry after a "
        "timeout cannot pay or refund twice.",
        "Generate a key per operation (a UUID), send it as `Idempotency-Key`, and send the same key "
        "when you retry the same operation.",
    ),
    ProblemDoc(
        "idempotency_key_reused",
        422,
        "Idempotency-Key reused",
        "This key was already used, within the last 48 hours, for a request with a different body.",
        "Use a new key for a new operation. To retry an operation, resend exactly the first body with "
        "its key: you then get the first answer again, with `Idempotent-Replayed: true`.",
    ),
    ProblemDoc(
        "idempotency_request_in_progress",
        409,
        "Request in progress",
        "The first request with this key is still running (it waited 15 s for it).",
        "Retry the same request with the same key a little later; it will replay the first answer.",
    ),
    # ------------------------------------------------------------------ payments
    ProblemDoc(
        "duplicate_bill",
        409,
        "Duplicate bill",
        "This agency already has an open or paid payment for the same dossier and bill. One bill is "
        "paid once. `payment_id` names the existing payment.",
        "Use the payment in `payment_id` (`GET /v1/payments/{payment_id}`). To bill again after a "
        "cancel or expiry create a new payment; for a second bill of the dossier send another "
        "`bill_code`.",
    ),
    ProblemDoc(
        "revenue_type_unknown",
        422,
        "Unknown revenue type",
        "An item's `revenue_type_code` is not in the catalogue, or no version of it is in force "
        "today. `errors` names the item, e.g. `items[0].revenue_type_code`.",
        "Look the code up in `GET /v1/revenue-types?q=…` (the codes in force, searchable with or "
        "without accents) and send one of those. Ask the operator to import a missing code "
        "(`PUT /admin/v1/revenue-types/{code}`).",
    ),
    ProblemDoc(
        "provider_unavailable",
        422,
        "Provider unavailable",
        "The gateway named is unknown, or no enabled account of it serves this agency or its "
        "ancestors, or the amount is outside the gateway's limits.",
        "List the usable gateways with `GET /v1/providers?agency_code=…` and choose one of them, or "
        "leave the gateway out and let the citizen choose on the checkout page.",
    ),
    ProblemDoc(
        "invalid_state",
        409,
        "Invalid state",
        "The payment (or attempt) is not in a state that allows this action: cancelling a paid "
        "payment, paying an expired one, recording an offline payment twice.",
        "Read the payment (`GET /v1/payments/{id}`); its `status` says what can still be done.",
    ),
    ProblemDoc(
        "receipt_unavailable",
        409,
        "No receipt for this payment",
        "A receipt exists only for a payment that was paid.",
        "Ask for the receipt after the payment has succeeded (the `payment.succeeded` event).",
    ),
    ProblemDoc(
        "invalid_after",
        400,
        "Unknown event in `after`",
        "`after` on `GET /v1/events` is not the id of one of your events.",
        "Send the `next_after` of your previous page, or leave `after` out to start from the oldest event.",
    ),
    # ------------------------------------------------------------------ refunds
    ProblemDoc(
        "refund_exceeds_remaining",
        422,
        "Refund exceeds the remaining amount",
        "The refund's `amount` is more than what remains unrefunded of the payment.",
        "Read the payment's `refunded_amount` and refund at most `amount - refunded_amount`.",
    ),
    ProblemDoc(
        "refund_not_allowed",
        409,
        "Refund not allowed",
        "The payment cannot be refunded now: it is not paid, it is fully refunded, or another refund "
        "of it is still pending.",
        "Wait for the pending refund to finish (`refund.succeeded` or `refund.failed`), then retry; "
        "only a paid payment can be refunded.",
    ),
    ProblemDoc(
        "refund_not_confirmable",
        409,
        "Refund cannot be confirmed",
        "Only a pending manual refund (a gateway without a refund API) is confirmed by an operator.",
        "Check the refund's `method` and `status`; gateway refunds finish on their own.",
    ),
    # ------------------------------------------------------------------ catalogue, reports, operator
    ProblemDoc(
        "agency_not_found",
        404,
        "Agency not found",
        "The `agency_code` is not an agency in your subtrees.",
        "List your agencies with `GET /v1/agencies` and use one of their codes.",
    ),
    ProblemDoc(
        "client_not_found",
        404,
        "Client not found",
        "No client has this id (client ids start with `cli_`).",
        "List clients with `GET /admin/v1/clients`.",
    ),
    ProblemDoc(
        "event_not_found",
        404,
        "Event not found",
        "No event has this id (event ids start with `evt_`).",
        "Find event ids in the client's feed or in `GET /admin/v1/deliveries`.",
    ),
    ProblemDoc(
        "no_webhook_url",
        409,
        "Client has no webhook URL",
        "The client has no webhook URL, so there is nothing to deliver or redeliver.",
        "Set one with `PATCH /admin/v1/clients/{id}` (`webhook_url`), or let the portal poll "
        "`GET /v1/events`.",
    ),
    ProblemDoc(
        "conflict",
        409,
        "Conflict",
        "The request conflicts with what exists: a code that already exists, an overlapping "
        "revenue-type validity period, a move that would make an agency its own ancestor.",
        "Read `detail`; change the code or period, or update the existing record instead.",
    ),
    ProblemDoc(
        "reconciliation_file_invalid",
        422,
        "Malformed reconciliation file",
        "The gateway's daily file cannot be read with the column mapping: a missing column, a bad "
        "amount or date. `errors` lists the lines.",
        "Upload the file exactly as the gateway produced it, or pass a `mapping` that names its columns.",
    ),
    ProblemDoc(
        "unknown_gateway",
        404,
        "Unknown gateway",
        "A callback or return arrived for a gateway or account paybridge does not know.",
        "Register the `callback_url` of the gateway account (`GET /admin/v1/provider-accounts`) at "
        "the gateway exactly as paybridge gives it.",
    ),
    ProblemDoc(
        "job_not_found",
        404,
        "No such job",
        "`GET /admin/v1/jobs/{id}` names a job paybridge does not have. Jobs are the long operator "
        "work that answered `202 Accepted`: catalogue imports, reconciliation files, bulk redelivery.",
        "Use the `Location` header (or the `id`) of the 202 answer that started the job; "
        "`GET /admin/v1/jobs` lists the newest ones.",
    ),
    ProblemDoc(
        "job_failed",
        500,
        "The job failed unexpectedly",
        "Found in a failed job's `error` (never as an HTTP answer): the work stopped on an error of "
        "ours, not on a problem with its input. Nothing of it was applied (each job is all or nothing).",
        "Look up the job id in the server log for the cause, then start the job again (the same file "
        "again changes nothing that was already applied). A problem with the input itself shows its "
        "own code instead, such as `validation_error` with the bad lines.",
    ),
    # ------------------------------------------------------------------ our side
    ProblemDoc(
        "service_unavailable",
        503,
        "Service unavailable",
        "paybridge cannot serve this request right now.",
        "Retry after the `Retry-After` header's seconds, with the same `Idempotency-Key` for creates.",
    ),
    ProblemDoc(
        "database_unavailable",
        503,
        "Service unavailable",
        "The database cannot be reached right now. Nothing was changed by this request unless a "
        "later read shows it.",
        "Retry after `Retry-After` seconds with the same `Idempotency-Key`: a retry never pays twice.",
    ),
    ProblemDoc(
        "not_ready",
        503,
        "Not ready",
        "`/readyz`: the database is not reachable or its migrations are not at head.",
        "Operators: run `paybridge migrate` and check `PAYBRIDGE_DATABASE_URL`.",
    ),
    ProblemDoc(
        "internal_error",
        500,
        "Internal error",
        "Something failed on paybridge's side. No stack trace is sent; `detail` carries the request id.",
        "Retry later (with the same `Idempotency-Key` for creates) and quote the request id to the "
        "operator, who finds the logged trace by it.",
    ),
]

PROBLEM_DOCS: dict[str, ProblemDoc] = {doc.code: doc for doc in _DOCS}
