"""The HTTP adapter of FhirClient: requests' own, over connections that read past informational (1xx) answers.

A server may send 1xx answers before its final one (102 Processing on a long transaction, 103 Early Hints from a
CDN); RFC 9110 §15.2 has a client ignore them. http.client skips only 100 Continue and would hand a 103 over as the
answer: a test would then judge its status and headers ("expected 201, got 103 Early Hints").
"""

from __future__ import annotations

import http.client

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager, ProxyManager

SWITCHING_PROTOCOLS = 101  # the one 1xx that ends the HTTP exchange: the connection then speaks another protocol


class _FinalResponse(http.client.HTTPResponse):
    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()
            if not 100 <= status < 200 or status == SWITCHING_PROTOCOLS:
                return version, status, reason
            http.client.parse_headers(self.fp)  # the interim answer's headers (a 1xx has no body)


class _Connection(HTTPConnection):
    response_class = _FinalResponse


class _TlsConnection(HTTPSConnection):
    response_class = _FinalResponse


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


_POOLS = {"http": _Pool, "https": _TlsPool}


class FinalAnswerAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs) -> PoolManager:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # (a SOCKS proxy keeps its own connections)
            manager.pool_classes_by_scheme = _POOLS
        return manager
