from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

admin.site.site_header = "Breachdesk"
admin.site.site_title = "Breachdesk"
admin.site.index_title = "Breach response"


@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("webhooks/", include("notifications.urls")),
    path("unsubscribe/", include("campaigns.urls")),
    path("recovery/", include("notifications.recovery.urls")),
    path("", admin.site.urls),
]
