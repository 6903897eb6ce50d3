/*
 * csrf: what keeps another web site from making a browser post pgfleet-web's actions
 * (cancel, retry failed, run now). Each browser gets a random cookie (CSRF_COOKIE); each
 * form carries a token, the HMAC-SHA256 of that cookie under a key this process drew at
 * start; a POST is taken only when its token is the HMAC of its own cookie and its
 * Origin and Sec-Fetch-Site headers, when sent, say it came from this server. Another
 * site can neither read the cookie nor compute the token, and a restart voids every
 * token. Pure apart from csrf_key_new and csrf_cookie_new (OpenSSL's random bytes);
 * nothing here allocates.
 */
#ifndef PGFLEET_WEB_CSRF_H
#define PGFLEET_WEB_CSRF_H

#include <stddef.h>

#define CSRF_COOKIE "pgfleet_csrf"
enum { CSRF_KEY_LEN = 32, CSRF_COOKIE_HEX = 32, CSRF_TOKEN_HEX = 64 };

/* A new key, or a new cookie value (32 lower-case hex digits). 0, or -1 when OpenSSL fails. */
int csrf_key_new(unsigned char key[CSRF_KEY_LEN]) __attribute__((warn_unused_result));
int csrf_cookie_new(char out[CSRF_COOKIE_HEX + 1]) __attribute__((warn_unused_result));

/* The token of a cookie value: 64 lower-case hex digits. 0, or -1 when OpenSSL fails. */
int csrf_token(const unsigned char key[CSRF_KEY_LEN], const char *cookie,
    char out[CSRF_TOKEN_HEX + 1]) __attribute__((warn_unused_result));

/*
 * 0 when token is the token of cookie (compared in constant time), -1 otherwise: either
 * missing or malformed, or another cookie's.
 */
int csrf_check(const unsigned char key[CSRF_KEY_LEN], const char *cookie, const char *token)
    __attribute__((warn_unused_result));

/*
 * The value of CSRF_COOKIE in a Cookie request header ("a=1; pgfleet_csrf=...; b=2") into
 * out when it is 32 lower-case hex digits: 0, else -1 (absent, malformed, or given twice).
 */
int csrf_cookie_get(const char *header, char out[CSRF_COOKIE_HEX + 1])
    __attribute__((warn_unused_result));

/*
 * Whether a POST's headers say it came from this server's own pages: origin (the Origin
 * header, NULL when absent) is "http://HOST" or "https://HOST" with host the Host header
 * (scheme by https), and fetch_site (Sec-Fetch-Site, NULL when absent) is "same-origin".
 * A header a browser did not send passes (the token still decides); "null" does not.
 * 1 or 0.
 */
int csrf_same_origin(const char *origin, const char *fetch_site, const char *host, int https);

#endif
