"""URLs of the panel's root domain (PAAS_DOMAIN): accounts, workspaces, operators' admin,
Traefik's configuration."""

from django.contrib import admin
from django.urls import include, path

from github import signin
from hosting import views as hosting_views
from tenants import views, views_invitations

urlpatterns = [
    path("", views.workspace_list, name="workspace_list"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("login/github/", signin.signin_start, name="github_signin"),
    path("login/github/done/", signin.signin_done, name="github_signin_done"),
    path("oauth/", include("social_django.urls", namespace="social")),
    path("workspaces/new/", views.workspace_create, name="workspace_create"),
    path("invitations/<str:token>/", views_invitations.invitation_show, name="invitation"),
    path("invitations/<str:token>/accept/", views_invitations.invitation_accept,
         name="invitation_accept"),
    path("healthz", views.healthz, name="healthz"),
    # Traefik's HTTP provider (bearer token): the routing table as its dynamic configuration.
    path("traefik/config", hosting_views.traefik_config, name="traefik_config"),
    path("admin/", admin.site.urls),
]
