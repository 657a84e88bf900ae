"""Connecting to Temporal (embedded dev server or a cluster) and registering search attributes."""
from __future__ import annotations

from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client, TLSConfig

from dealerflow.core.config import Settings
from dealerflow.contracts import SEARCH_ATTRIBUTES

_INDEXED = {"KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
            "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME}


async def connect(settings: Settings) -> Client:
    if not settings.temporal_address:
        raise ValueError("TEMPORAL_ADDRESS is not set (dealerflow dev sets it for the embedded server)")
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert:
        tls = TLSConfig(
            client_cert=Path(settings.temporal_tls_cert).read_bytes(),
            client_private_key=Path(settings.temporal_tls_key).read_bytes(),
            server_root_ca_cert=Path(settings.temporal_tls_ca).read_bytes() if settings.temporal_tls_ca else None,
        )
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace, tls=tls)


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register the custom search attributes the workflows set; returns the ones added.
    Workflow tasks fail on unregistered attributes, so workers call this before polling."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace))
    missing = {key.name: _INDEXED[key.indexed_value_type.name]
               for key in SEARCH_ATTRIBUTES if key.name not in existing.custom_attributes}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing))
    return sorted(missing)
