"""URL canonicalisation: one spelling per article, so that URL variants dedup to one story."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Parameters that identify a campaign or a click, never the article.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "yclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "ref",
        "ref_src",
        "rss",
        "_openstat",
        "cmpid",
    }
)
TRACKING_PREFIXES = ("utm_",)
# the same article on a mobile or AMP host, path or parameter
VARIANT_HOST_LABELS = ("www", "m", "mobile", "amp")
VARIANT_PARAMS = {
    ("amp", ""),
    ("amp", "1"),
    ("amp", "true"),
    ("outputtype", "amp"),
    ("_amp", "true"),
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _without_amp(path: str) -> str:
    """The path without a trailing slash or an /amp segment at either end."""
    while True:
        trimmed = path.rstrip("/") or "/"
        if trimmed.lower().endswith("/amp"):
            trimmed = trimmed[:-4] or "/"
        elif trimmed.lower().startswith("/amp/"):
            trimmed = trimmed[4:]
        if trimmed == path:
            return path
        path = trimmed


def canonical_url(url: str) -> str | None:
    """The canonical form of an http(s) URL, or None when it is not one.

    Lower-case scheme and host, no `www.`/`m.`/`mobile.`/`amp.` host label, no default port,
    no fragment, no trailing slash (but the root) nor /amp path segment, https for http,
    tracking and AMP parameters removed and the rest sorted.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    labels = host.split(".")
    while len(labels) > 2 and labels[0] in VARIANT_HOST_LABELS:
        labels.pop(0)
    host = ".".join(labels)
    # everything becomes https, so https' own default port goes as well as the scheme's
    netloc = host if port in (None, _DEFAULT_PORTS[scheme], 443) else f"{host}:{port}"
    path = _without_amp(parts.path or "/")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(k) and (k.lower(), v.lower()) not in VARIANT_PARAMS
    ]
    query.sort()
    return urlunsplit(("https", netloc, path, urlencode(query), ""))
