"""The service form's "Pick from GitHub", as an admin of the workspace sees it: their
repositories (searched, a page at a time), a picked repository's source block, and the
hidden field the form checks again on save whatever the browser sends."""

import pytest
from django_tenants.utils import tenant_context

from github.models import GitHubAccount
from projects.models import Environment, Service
from projects.services import create_project

LIST = "/github/repositories/"
SOURCE = "/github/source/"


@pytest.fixture
def ada(people, fake_github):
    """The workspace's admin, signed in with GitHub as "ada", who can read 150 repositories."""
    user = fake_github.add_user("ada", 303)
    for number in range(150):
        fake_github.add_repo(f"ada/app-{number:03}", private=number % 2 == 0)
    fake_github.add_repo("ada/shop", private=True, branches=["main", "develop", "release"],
                         default_branch="develop")
    fake_github.add_repo("olive/secret", private=True)  # not ada's
    account = GitHubAccount(user=people.admin, github_id=303, login="ada")
    account.set_tokens(fake_github.issue_token(user))
    account.save()
    return account


@pytest.fixture
def admin(people, client_for, workspace_a):
    return client_for(people.admin, workspace_a)


@pytest.fixture
def environment(workspace_a):
    with tenant_context(workspace_a):
        project = create_project("shop")
        return Environment.objects.get(project=project)


def service_named(workspace, name):
    with tenant_context(workspace):
        return Service.objects.filter(name=name).first()


def picked_names(response):
    html = response.content.decode()
    return [part.split('"', 1)[0] for part in html.split('data-full-name="')[1:]]


def test_the_list_shows_a_page_of_repositories_with_badges_and_load_more(admin, ada):
    response = admin.get(LIST, {"prefix": "id_"})
    html = response.content.decode()
    assert response.status_code == 200
    assert len(picked_names(response)) == 100
    assert "Private" in html and "Public" in html and 'data-action="pick-repository"' in html
    assert "page=2" in html and "Load more" in html
    more = admin.get(LIST, {"prefix": "id_", "page": "2", "more": "1"}, HTTP_HX_REQUEST="true")
    assert len(picked_names(more)) == 52 - 1  # 151 of ada's, the first 100 shown already
    assert "Load more" not in more.content.decode()
    assert "olive/secret" not in html + more.content.decode()


def test_search_keeps_the_names_containing_the_query(admin, ada):
    response = admin.get(LIST, {"q": "SHOP"})
    assert picked_names(response) == ["ada/shop"]
    assert "No repositories" in admin.get(LIST, {"q": "nothing-like-it"}).content.decode()


def test_a_picked_repository_fills_the_source_block(admin, ada):
    html = admin.get(SOURCE, {"prefix": "env1_", "full_name": "Ada/Shop"}).content.decode()
    assert 'value="https://github.com/ada/shop.git"' in html
    assert 'name="github_repository" id="env1_github_repository" value="ada/shop"' in html
    assert '<option value="develop" selected>' in html
    assert '<option value="release">' in html and "Private" in html


def test_without_a_repository_the_plain_fields_come_back(admin, ada):
    html = admin.get(SOURCE, {"prefix": "id_"}).content.decode()
    assert 'name="github_repository" id="id_github_repository" value=""' in html
    assert 'name="branch"' in html and "<select" not in html


@pytest.mark.parametrize(("url", "params", "field"), [
    (LIST, {"page": "-1"}, "page"), (LIST, {"page": "x"}, "page"), (LIST, {"page": "0"}, "page"),
    (LIST, {"q": "a" * 101}, "q"), (LIST, {"prefix": '"><script>'}, "prefix"),
    (SOURCE, {"full_name": "../x"}, "full_name"), (SOURCE, {"full_name": "a/b/c"}, "full_name"),
    (SOURCE, {"prefix": "../", "full_name": "ada/shop"}, "prefix"),
])
def test_hostile_parameters_are_refused_naming_the_field(admin, ada, fake_github, url, params,
                                                         field):
    asked = len(fake_github.requests)
    response = admin.get(url, params)
    assert response.status_code == 400
    assert response.content.decode().startswith(f"{field}:")
    assert len(fake_github.requests) == asked  # GitHub was asked nothing


def test_another_users_private_repository_cannot_be_picked(admin, ada):
    html = admin.get(SOURCE, {"full_name": "olive/secret"}).content.decode()
    assert "cannot read olive/secret" in html and "github_repository" not in html


def test_without_a_github_account_a_note_says_to_sign_in(people, client_for, workspace_a,
                                                        fake_github):
    owner = client_for(people.owner, workspace_a)
    for url, params in ((LIST, {}), (SOURCE, {"full_name": "ada/shop"})):
        response = owner.get(url, params)
        assert response.status_code == 200
        assert "Sign in with GitHub to pick a repository" in response.content.decode()


def test_an_expired_authorization_asks_to_sign_in_again(admin, ada, fake_github):
    fake_github.expire(ada.token())
    response = admin.get(LIST)
    assert response.status_code == 200
    assert ("Your GitHub authorization has expired: sign in with GitHub again"
            in response.content.decode())


def test_members_who_may_not_edit_services_are_refused(people, client_for, workspace_a, ada):
    member = client_for(people.member, workspace_a)
    assert member.get(LIST).status_code == 403
    assert member.get(SOURCE, {"full_name": "ada/shop"}).status_code == 403


def test_a_picked_repository_is_saved_with_its_clone_url_and_account(admin, ada, environment,
                                                                   workspace_a):
    response = admin.post(f"/environments/{environment.pk}/services/new/", {
        "name": "web", "repository_url": "https://example.com/other.git", "branch": "develop",
        "github_repository": "ada/shop"})
    assert response.status_code == 302
    service = service_named(workspace_a, "web")
    assert (service.repository_url, service.github_repository, service.github_user_id,
            service.branch) == ("https://github.com/ada/shop.git", "ada/shop", 303, "develop")


@pytest.mark.parametrize("tampered", ["olive/secret", "../x"])
def test_a_tampered_hidden_field_is_a_form_error_and_saves_nothing(admin, ada, environment,
                                                                 workspace_a, tampered):
    response = admin.post(f"/environments/{environment.pk}/services/new/", {
        "name": "web", "repository_url": "", "branch": "main", "github_repository": tampered})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-field-error="github_repository"' in html
    assert service_named(workspace_a, "web") is None


def test_typing_another_url_disconnects_the_service(admin, ada, environment, workspace_a):
    admin.post(f"/environments/{environment.pk}/services/new/", {
        "name": "web", "branch": "main", "github_repository": "ada/shop"})
    service = service_named(workspace_a, "web")
    response = admin.post(f"/services/{service.pk}/settings/", {
        "repository_url": "https://example.com/mine.git", "branch": "main",
        "github_repository": "", "build_timeout": "15", "instances": "1",
        "healthcheck_timeout": "30", "restart_policy": "on-failure", "max_restarts": "5"})
    assert response.status_code == 302, response.context["form"].errors
    service = service_named(workspace_a, "web")
    assert (service.repository_url, service.github_repository, service.github_user_id) == (
        "https://example.com/mine.git", "", None)
