"""The project's own views: one mapped by dotted path, one that sends a mapped signal."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from djproject.signals import email_verified


def request_verification(request: HttpRequest) -> HttpResponse:
    """POST: a verification email is (pretend) sent, then redirect (mapped to email_verification.sent)."""
    return HttpResponseRedirect("/") if request.method == "POST" else HttpResponse("form")


def verify_email(request: HttpRequest, code: str) -> HttpResponse:
    user = get_user_model().objects.get(username=code)
    email_verified.send(sender=None, request=request, user=user)
    return HttpResponse("verified")
