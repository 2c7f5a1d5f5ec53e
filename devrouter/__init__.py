"""The development router (its own process), until Traefik takes its place."""
