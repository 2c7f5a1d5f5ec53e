"""The services that existed before domains were reserved keep the domain they were served at
(the oldest of those that shared one), in the public schema's GeneratedDomain.

The services live in the workspaces' schemas, which this public app's migration reads with
SQL (the models are not reachable from here).
"""

from django.conf import settings
from django.db import migrations

from hosting.domain_labels import candidate_labels, readable_label

PRODUCTION = "production"  # projects.models.Environment.PRODUCTION
ATTEMPTS = 20


def existing_services(connection, workspaces):
    """(created_at, id, schema name, readable label) of every service of the workspaces
    (schema name, slug), read from their schemas; a schema without the tables is skipped."""
    quote = connection.ops.quote_name
    found = []
    with connection.cursor() as cursor:
        for schema_name, slug in workspaces:
            schema = quote(schema_name)
            cursor.execute("SELECT to_regclass(%s), to_regclass(%s)",
                           [f"{schema}.projects_service", f"{schema}.projects_environment"])
            if None in cursor.fetchone():
                continue
            cursor.execute(  # the schema name is a quoted identifier from the workspace table
                f"SELECT s.id, s.name, e.name, s.created_at FROM {schema}.projects_service s"  # noqa: S608
                f" JOIN {schema}.projects_environment e ON e.id = s.environment_id")
            for service_id, name, environment, created_at in cursor.fetchall():
                readable = readable_label(name, None if environment == PRODUCTION
                                          else environment, slug)
                found.append((created_at, service_id, schema_name, readable))
    return found


def reserve_existing_domains(apps, schema_editor):
    """Each existing service keeps the domain it was served at, when it was the first (by
    creation time, then id) to have it; a later one with the same name gets a suffixed
    label. Routes follow the domains of their services."""
    Workspace = apps.get_model("tenants", "Workspace")
    GeneratedDomain = apps.get_model("hosting", "GeneratedDomain")
    workspaces = Workspace.objects.values_list("schema_name", "slug")
    taken = set(GeneratedDomain.objects.values_list("label", flat=True))
    held = set(GeneratedDomain.objects.values_list("schema_name", "service_id"))
    services = sorted(existing_services(schema_editor.connection, workspaces),
                      key=lambda row: row[:3])  # oldest first: it keeps the name
    new = []
    for _, service_id, schema_name, readable in services:
        if (schema_name, service_id) in held:
            continue
        label = next(label for label in candidate_labels(readable, ATTEMPTS)
                     if label not in taken)
        taken.add(label)
        new.append(GeneratedDomain(label=label, schema_name=schema_name, service_id=service_id))
    GeneratedDomain.objects.bulk_create(new)
    move_routes_to_domains(apps)


def move_routes_to_domains(apps):
    """A route whose service now has another domain moves to it (in two passes: the targets
    are distinct, but one may be another route's current name); a route of no service that
    holds a service's domain is stale and dropped."""
    GeneratedDomain = apps.get_model("hosting", "GeneratedDomain")
    Route = apps.get_model("hosting", "Route")
    apps_domain = settings.PAAS_APPS_DOMAIN
    domain_of = {(schema_name, service_id): f"{label}.{apps_domain}" for label, schema_name,
                 service_id in GeneratedDomain.objects.values_list("label", "schema_name",
                                                                   "service_id")}
    owned = set(domain_of.values())
    moving = []
    for route in Route.objects.filter(hostname__endswith=f".{apps_domain}"):
        domain = domain_of.get((route.schema_name, route.service_id))
        if domain is None and route.hostname in owned:
            route.delete()
        elif domain is not None and domain != route.hostname:
            moving.append((route, domain))
    for route, _ in moving:
        Route.objects.filter(pk=route.pk).update(hostname=f"moving-{route.pk}.invalid")
    for route, domain in moving:
        Route.objects.filter(pk=route.pk).update(hostname=domain)


class Migration(migrations.Migration):

    dependencies = [
        ('hosting', '0002_generated_domains'),
        ('tenants', '0003_host_tables_move_to_hosting'),
    ]

    operations = [
        migrations.RunPython(reserve_existing_domains, migrations.RunPython.noop),
    ]
