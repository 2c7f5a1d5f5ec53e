"""social-auth's own tables stay out of the operators' admin: their extra data is GitHub's
answer at sign-in, which may hold tokens (the panel keeps tokens in GitHubAccount, encrypted)."""

from django.contrib import admin
from social_django.models import Association, Nonce, UserSocialAuth

for model in (Association, Nonce, UserSocialAuth):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
