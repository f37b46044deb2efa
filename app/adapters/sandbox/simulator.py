"""The sandbox gateway's own side: hosted pay page, signed callbacks, query and refund APIs."""

from __future__ import annotations

import html
import logging
import secrets
from typing import Any

import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.adapters.common.simulation import SimulatorContext
from app.adapters.sandbox.adapter import sign, signed_query, split_signed_query, verify
from app.text import format_vnd

log = logging.getLogger("paybridge.sandbox")

_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox gateway</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#1f2937}}
.card{{border:1px solid #d1d5db;border-radius:.75rem;padding:1.25rem}}
.amount{{font-size:1.75rem;font-weight:700;margin:.5rem 0}}
button{{width:100%;padding:.8rem;margin:.35rem 0;border:0;border-radius:.5rem;font-size:1rem;cursor:pointer}}
.pay{{background:#15803d;color:#fff}}.fail{{background:#b91c1c;color:#fff}}.cancel{{background:#e5e7eb}}
small{{color:#6b7280}}
</style></head><body>
<div class="card">
<p><strong>Cổng thanh toán thử nghiệm</strong> · Sandbox gateway</p>
<p>{description}</p>
<p class="amount" data-testid="amount">{amount}</p>
<p><small>Mã giao dịch / Reference: {reference}</small></p>
<form method="post">
<button class="pay" name="outcome" value="success" data-testid="pay">Thanh toán / Pay</button>
<button class="fail" name="outcome" value="failed" data-testid="fail">Thất bại / Fail</button>
<button class="cancel" name="outcome" value="cancelled" data-testid="cancel">Huỷ / Cancel</button>
</form>
</div></body></html>"""

_SIM_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'"


def build_router(ctx: SimulatorContext) -> APIRouter:
    router = APIRouter()
    store = ctx.store("sandbox")
    txns: dict[str, dict[str, Any]] = store.setdefault("transactions", {})

    async def _checked(request: Request) -> tuple[dict[str, str], Any] | Response:
        parts = split_signed_query(request.url.query)
        fields = dict(request.query_params)
        account = await ctx.find_account("sandbox", "merchant_id", fields.get("merchant_id", ""))
        if parts is None or account is None or not verify(account.credentials["secret"], parts[0], parts[1]):
            return HTMLResponse("<h1>Chữ ký không hợp lệ / Invalid signature</h1>", status_code=400)
        return fields, account

    @router.get("/pay", response_class=HTMLResponse, include_in_schema=False)
    async def pay_page(request: Request) -> Response:
        checked = await _checked(request)
        if isinstance(checked, Response):
            return checked
        fields, _ = checked
        body = _PAGE.format(
            description=html.escape(fields.get("description", "")),
            amount=html.escape(format_vnd(int(fields.get("amount", "0")))),
            reference=html.escape(fields.get("reference", "")),
        )
        return HTMLResponse(body, headers={"Content-Security-Policy": _SIM_CSP})

    @router.post("/pay", include_in_schema=False)
    async def pay(request: Request) -> Response:
        checked = await _checked(request)
        if isinstance(checked, Response):
            return checked
        fields, account = checked
        form = await request.form()
        outcome = str(form.get("outcome", ""))
        if outcome not in ("success", "failed", "cancelled"):
            return HTMLResponse("<h1>outcome must be success, failed or cancelled</h1>", status_code=400)
        reference, amount = fields["reference"], int(fields["amount"])
        txn_id = "SBXT" + secrets.token_hex(6).upper()
        now = ctx.clock().isoformat()
        txns[reference] = {"status": outcome, "amount": amount, "transaction_id": txn_id, "paid_at": now}
        body = orjson.dumps(
            {
                "merchant_id": account.credentials["merchant_id"],
                "reference": reference,
                "amount": amount,
                "status": outcome,
                "transaction_id": txn_id,
                "paid_at": now,
            }
        )
        headers = {
            "Content-Type": "application/json",
            "X-Sandbox-Signature": sign(account.credentials["secret"], body.decode()),
        }
        try:
            answer = await ctx.http().post(account.callback_url, content=body, headers=headers)
            txns[reference]["ipn_answer"] = answer.status_code
        except httpx.HTTPError as exc:  # the merchant is down: it must query us later
            log.warning("sandbox IPN failed: %s", type(exc).__name__)
            txns[reference]["ipn_answer"] = None
        back = signed_query(
            account.credentials["secret"],
            [
                ("reference", reference),
                ("status", outcome),
                ("transaction_id", txn_id),
                ("amount", str(amount)),
            ],
        )
        return_url = fields.get("return_url", account.return_url)
        separator = "&" if "?" in return_url else "?"
        return RedirectResponse(f"{return_url}{separator}{back}", status_code=303)

    @router.post("/api/query", include_in_schema=False)
    async def query(request: Request) -> Response:
        data = orjson.loads(await request.body())
        account = await ctx.find_account("sandbox", "merchant_id", str(data.get("merchant_id", "")))
        reference = str(data.get("reference", ""))
        if account is None or not verify(
            account.credentials["secret"], f"{data.get('merchant_id')}|{reference}", str(data.get("sig", ""))
        ):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        txn = txns.get(reference)
        status = txn["status"] if txn else "not_found"
        amount = txn["amount"] if txn else None
        txn_id = txn["transaction_id"] if txn else ""
        message = f"{reference}|{status}|{amount if amount is not None else ''}|{txn_id}"
        return JSONResponse(
            {
                "reference": reference,
                "status": status,
                "amount": amount,
                "transaction_id": txn_id,
                "sig": sign(account.credentials["secret"], message),
            }
        )

    @router.post("/api/refund", include_in_schema=False)
    async def refund(request: Request) -> Response:
        data = orjson.loads(await request.body())
        account = await ctx.find_account("sandbox", "merchant_id", str(data.get("merchant_id", "")))
        fields = [data.get(k) for k in ("merchant_id", "refund_id", "transaction_id", "amount")]
        message = "|".join(str(f) for f in fields)
        if account is None or not verify(account.credentials["secret"], message, str(data.get("sig", ""))):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        refunds: dict[str, str] = store.setdefault("refunds", {})
        paid = next((t for t in txns.values() if t["transaction_id"] == data.get("transaction_id")), None)
        already = sum(
            int(r.split(":")[1])
            for key, r in refunds.items()
            if r.startswith(str(data.get("transaction_id")))
        )
        refund_id = str(data.get("refund_id"))
        if refund_id in refunds:
            status = "succeeded"
        elif (
            paid is None
            or paid["status"] != "success"
            or already + int(data.get("amount", 0)) > paid["amount"]
        ):
            status = "failed"
        else:
            refunds[refund_id] = f"{data.get('transaction_id')}:{int(data['amount'])}"
            status = "succeeded"
        return JSONResponse(
            {
                "refund_id": refund_id,
                "status": status,
                "sig": sign(account.credentials["secret"], f"{refund_id}|{status}"),
            }
        )

    return router
