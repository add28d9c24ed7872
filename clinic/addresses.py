"""The client's address, as the audit trail, the sign-in lockout and the patient link's rate
limit see it.

``X-Forwarded-For`` is trusted only as far as TRUSTED_PROXY_COUNT says: with the default 0
the address is the connection's peer (REMOTE_ADDR) and any forwarded header is ignored, since
anyone can send one. With N proxies in front (each appending the address it received the
request from), the client is the address the outermost proxy saw: the (N+1)th from the right
of the forwarded list followed by the peer. Entries further left were written by the client
and are never used. Read through django-ipware."""

from types import SimpleNamespace

from django.conf import settings
from ipware import get_client_ip


def client_ip(request) -> str | None:
    if request is None:
        return None
    peer = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    chain = ", ".join(part for part in (forwarded, peer) if part)
    ip, _routable = get_client_ip(
        SimpleNamespace(META={"HTTP_X_FORWARDED_FOR": chain}),
        proxy_order="left-most",
        proxy_count=proxies,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,
    )
    # Fewer hops than proxies: the request did not come through them; its peer is the client.
    return ip or peer
