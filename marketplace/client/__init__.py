"""The crowdmarket Python client: `Client` (marketplace/client/client.py) and the `crowdmarket` command line
(marketplace/client/cli.py). Imports nothing of the server (an import-linter contract checks it): httpx only."""

from marketplace.client.client import Client
from marketplace.client.transport import ApiError, http_client

__all__ = ["ApiError", "Client", "http_client"]
