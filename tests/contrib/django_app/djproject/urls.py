"""Django's auth views under accounts/, and the project's own email-verification view."""

from __future__ import annotations

from django.urls import include, path

from djproject import views

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("verify/request/", views.request_verification),
    path("verify/<str:code>/", views.verify_email),
]
