#!/usr/bin/env python3
"""Sign in as a browser would and print the Cookie header the proxy set.

    bench/sign-in.py http://127.0.0.1:18000/x load-test@example.com

Opens URL (no session: the proxy sends the browser to the IdP), fills in the
test OpenID Provider's login form (tests/support/op: any login, any password),
follows every redirect back to the proxy's callback and on to URL, checks that
URL answers 200, and prints the cookies the proxy's host holds, ready for
`wrk -H "Cookie: ..."`. Works for stagepass and for mod_auth_openidc alike.
"""
import http.cookiejar
import sys
import urllib.parse
import urllib.request


def main(url: str, login: str) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    # A browser navigation: proxies answer API clients with 401, not a redirect.
    opener.addheaders = [("Accept", "text/html")]
    form = opener.open(url)
    if form.status != 200 or "/interaction/" not in form.url:
        sys.exit(f"expected the IdP's login form, got {form.status} at {form.url}")
    fields = urllib.parse.urlencode({"prompt": "login", "login": login, "password": "x"})
    landed = opener.open(form.url, data=fields.encode())
    if landed.status != 200 or not landed.url.startswith(url):
        sys.exit(f"sign-in ended at {landed.url} with {landed.status}, not at {url}")
    host = urllib.parse.urlsplit(url).hostname
    cookies = [f"{c.name}={c.value}" for c in jar if c.domain == host]
    if not cookies:
        sys.exit(f"signed in, but {host} set no cookie")
    print("; ".join(cookies))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
