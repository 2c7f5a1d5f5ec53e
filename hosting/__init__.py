"""What is global to the hosts the panel runs apps on: the hosts, their ports, the routing
table (public schema)."""
