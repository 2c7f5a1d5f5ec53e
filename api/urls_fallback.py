"""Anything else under /api/: the API's JSON 404, never an HTML page."""

from django.urls import re_path

from api.errors import not_found

urlpatterns = [re_path(r"^.*$", not_found)]
