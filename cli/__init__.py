"""`paas`, the panel's command-line client: it talks to a workspace's REST API over HTTP only
(no Django here)."""

VERSION = "0.1.0"
USER_AGENT = f"paas-cli/{VERSION}"
