"""printwork-client: a typed Python client for the Prodigi Print API v4 (Printwork and Prodigi alike)."""

from printwork_client import callbacks, models
from printwork_client.client import AsyncPrintwork, Printwork, RetryPolicy
from printwork_client.errors import (
    AuthenticationFailed,
    FieldFailure,
    NotFound,
    PrintworkError,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from printwork_client.models import (
    Address,
    DetailStatus,
    NewAsset,
    NewItem,
    NewOrder,
    Order,
    Outcome,
    QuoteAsset,
    QuoteItemRequest,
    QuoteRequest,
    Recipient,
    ShippingMethod,
    Stage,
)

__all__ = [
    "Address", "AsyncPrintwork", "AuthenticationFailed", "DetailStatus", "FieldFailure", "NewAsset", "NewItem",
    "NewOrder", "NotFound", "Order", "Outcome", "Printwork", "PrintworkError", "QuoteAsset", "QuoteItemRequest",
    "QuoteRequest", "RateLimited", "Recipient", "RetryPolicy", "ServerError", "ShippingMethod", "Stage",
    "ValidationFailed", "callbacks", "models",
]
