"""A customer's redemption link and the identity system's webhook: no login, each proven
by its signature."""

import json

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from config.models import company_profile

from .responses import (
    RedemptionLinkError,
    WebhookRefused,
    code_redeem_by_link,
    identity_webhook_verify,
    password_resets_from_webhook,
    redemption_token_read,
)


@login_not_required
@require_http_methods(["GET", "POST"])
def redeem(request: HttpRequest, token: str) -> HttpResponse:
    # A GET only shows the button: mail scanners open every link in a message, and a
    # redemption they trigger would tell the reminder the person acted.
    context = {"company": company_profile(), "error": "", "code": None}
    try:
        code = redemption_token_read(token)
        context["code"] = code
        if request.method == "POST":
            code = code_redeem_by_link(token=token)
            if code.redeem_url:
                return HttpResponseRedirect(code.redeem_url)
            context["done"] = True
    except RedemptionLinkError as error:
        context["error"] = str(error)
        return render(request, "notifications/recovery/redeem.html", context, status=400)
    return render(request, "notifications/recovery/redeem.html", context)


# No CSRF token: a server posts here; the HMAC signature over the timestamp and the body
# is the proof, and an old timestamp is refused as a replay.
@login_not_required
@csrf_exempt
@require_POST
def identity_password_resets(request: HttpRequest) -> HttpResponse:
    try:
        identity_webhook_verify(
            timestamp=request.headers.get("X-Breachdesk-Timestamp", ""),
            signature=request.headers.get("X-Breachdesk-Signature", ""),
            body=request.body,
        )
    except WebhookRefused as error:
        return JsonResponse({"error": str(error)}, status=403)
    try:
        resets = json.loads(request.body)["resets"]
        if not isinstance(resets, list):
            raise TypeError("resets is not a list")
        outcome = password_resets_from_webhook(resets=resets)
    except (ValueError, KeyError, TypeError) as error:
        return JsonResponse({"error": f"the body is not {{'resets': [...]}}: {error}"}, status=400)
    except ValidationError as error:
        return JsonResponse({"error": "; ".join(error.messages)}, status=400)
    return JsonResponse(
        {
            "recorded": outcome.recorded,
            "already": outcome.already,
            "unknown": [value for _index, value in outcome.unknown],
        }
    )
