"""Django's auth views (login, logout, password reset) under accounts/, and a home page to land on."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"hello {request.user}")


urlpatterns = [path("", home), path("accounts/", include("django.contrib.auth.urls"))]
