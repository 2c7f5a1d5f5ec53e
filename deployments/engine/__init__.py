"""What runs on a host, on that host's own queues: source fetch, builders, releases, PM2,
health checks, launch and switch, the monitor, the log shipper. Only deployments.tasks (the
actors) imports it; it imports models and settings, never pages."""
