"""The one HTTP client for the JING Open API, shared by tap-jing and target-jing."""

from jing_client.client import Envelope, JingClient, Page
from jing_client.errors import (
    JingAuthError,
    JingBadRequest,
    JingConfigError,
    JingError,
    JingHeldOff,
    JingMalformedResponse,
    JingNotFound,
    JingPermissionError,
    JingRateLimited,
    JingTimeout,
    JingTokenError,
    JingTransientError,
    JingUnreachable,
)
from jing_client.settings import PRODUCTION_BASE_URL, ClientSettings, ErrorCodes, Paths

__all__ = [
    "PRODUCTION_BASE_URL",
    "ClientSettings",
    "Envelope",
    "ErrorCodes",
    "JingAuthError",
    "JingBadRequest",
    "JingClient",
    "JingConfigError",
    "JingError",
    "JingHeldOff",
    "JingMalformedResponse",
    "JingNotFound",
    "JingPermissionError",
    "JingRateLimited",
    "JingTimeout",
    "JingTokenError",
    "JingTransientError",
    "JingUnreachable",
    "Page",
    "Paths",
]
