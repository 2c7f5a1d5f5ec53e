"""URLs of the panel's root domain (PAAS_DOMAIN): accounts, workspaces, operators' admin."""

from django.contrib import admin
from django.urls import path

from tenants import views

urlpatterns = [
    path("", views.workspace_list, name="workspace_list"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("workspaces/new/", views.workspace_create, name="workspace_create"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
