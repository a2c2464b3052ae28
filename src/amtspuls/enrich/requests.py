"""What a server-log request was: a pageview, a download, a 404, a search, or a resource
that is not counted (static files, redirects, errors …). The documented pageview rule:

    a request is a pageview if its method is GET, its status is 2xx or 304, its path has
    no static or download file extension, it is not a tracking endpoint, it carries no
    site-search parameter, and it does not come from a bot or a spam referrer.

Tracker events arrive with their type and are not reclassified."""

from __future__ import annotations

from amtspuls.privacy.urls import RequestRules, sql_list

# Kinds of server-log requests that are stored as events; every other kind is counted
# (per day and reason) and dropped.
STORED_KINDS = ("pageview", "search", "download", "not_found")


def sql_extension(raw_path_expr: str) -> str:
    return f"lower(regexp_extract({raw_path_expr}, '\\.([A-Za-z0-9]{{1,8}})$', 1))"


def sql_kind(rules: RequestRules) -> str:
    """Engine expression over columns type, url, method, status, ext, raw_path and
    search_query (bots and spam referrers are decided before)."""
    return f"""
    CASE
      WHEN type IS NOT NULL THEN type
      WHEN ext IN {sql_list(rules.static_extensions)} THEN 'static'
      WHEN lower(raw_path) IN {sql_list(rules.tracker_paths)} THEN 'tracker_request'
      WHEN upper(method) NOT IN {sql_list(rules.page_methods)} THEN 'method'
      WHEN status IN (404, 410) THEN 'not_found'
      WHEN (status BETWEEN 200 AND 299) OR status = 304 THEN
        CASE WHEN ext IN {sql_list(rules.download_extensions)} THEN 'download'
             WHEN search_query IS NOT NULL THEN 'search'
             ELSE 'pageview' END
      WHEN status BETWEEN 300 AND 399 THEN 'redirect'
      ELSE 'error'
    END"""
