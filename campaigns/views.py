"""The one page of Breachdesk a customer opens: the unsubscribe link of a campaign email."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from config.models import company_profile
from config.services import ServiceError

from .messages import customer_unsubscribe, unsubscribe_token_read


# No login: the person is a customer, not a user. No CSRF token: RFC 8058 has the mail
# client POST without one; the signed link is the proof, and the only effect is an opt-out.
@login_not_required
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    context = {"company": company_profile(), "done": False, "error": ""}
    try:
        unsubscribe_token_read(token)
        if request.method == "POST":
            # A GET only asks: link scanners open every link in a message.
            customer_unsubscribe(token=token)
            context["done"] = True
    except ServiceError as error:
        context["error"] = str(error)
        return render(request, "campaigns/unsubscribe.html", context, status=400)
    return render(request, "campaigns/unsubscribe.html", context)
