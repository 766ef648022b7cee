"""The example's two routes."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("otp/", views.send_code, name="send-code"),
    path("otp/verify/", views.verify_code, name="verify-code"),
]
