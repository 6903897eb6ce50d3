/*
 * csrf: cookie, token and header checks for pgfleet-web's actions (csrf.h).
 */
#include "web/csrf.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/util.h"

/* What the HMAC covers besides the cookie: a token of this purpose, and of nothing else. */
static const char TOKEN_CONTEXT[] = "pgfleet-web csrf v1:";

int
csrf_key_new(unsigned char key[CSRF_KEY_LEN])
{
	return RAND_bytes(key, CSRF_KEY_LEN) == 1 ? 0 : -1;
}

int
csrf_cookie_new(char out[CSRF_COOKIE_HEX + 1])
{
	unsigned char raw[CSRF_COOKIE_HEX / 2];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	util_hex(raw, sizeof(raw), out);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

static int
is_hex(const char *s, size_t n)
{
	if (s == NULL || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
csrf_token(const unsigned char key[CSRF_KEY_LEN], const char *cookie, char out[CSRF_TOKEN_HEX + 1])
{
	unsigned char msg[sizeof(TOKEN_CONTEXT) + CSRF_COOKIE_HEX], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if (!is_hex(cookie, CSRF_COOKIE_HEX))
		return -1;
	size_t n = sizeof(TOKEN_CONTEXT) - 1;
	memcpy(msg, TOKEN_CONTEXT, n);
	memcpy(msg + n, cookie, CSRF_COOKIE_HEX);
	if (HMAC(EVP_sha256(), key, CSRF_KEY_LEN, msg, n + CSRF_COOKIE_HEX, mac, &maclen) == NULL ||
	    maclen != CSRF_TOKEN_HEX / 2)
		return -1;
	util_hex(mac, maclen, out);
	return 0;
}

int
csrf_check(const unsigned char key[CSRF_KEY_LEN], const char *cookie, const char *token)
{
	char want[CSRF_TOKEN_HEX + 1];
	if (!is_hex(token, CSRF_TOKEN_HEX) || csrf_token(key, cookie, want) == -1)
		return -1;
	int same = CRYPTO_memcmp(want, token, CSRF_TOKEN_HEX) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return same ? 0 : -1;
}

int
csrf_cookie_get(const char *header, char out[CSRF_COOKIE_HEX + 1])
{
	const size_t nl = sizeof(CSRF_COOKIE) - 1;
	int found = 0;
	const char *rest = header, *p;
	size_t len;
	while ((p = util_next_item(&rest, ';', &len)) != NULL) {
		if (len > nl && strncmp(p, CSRF_COOKIE, nl) == 0 && p[nl] == '=') {
			/* two of them: one may have been set by a neighbour site (cookie tossing) */
			if (found || len - nl - 1 != CSRF_COOKIE_HEX)
				return -1;
			memcpy(out, p + nl + 1, CSRF_COOKIE_HEX);
			out[CSRF_COOKIE_HEX] = '\0';
			if (!is_hex(out, CSRF_COOKIE_HEX))
				return -1;
			found = 1;
		}
	}
	return found ? 0 : -1;
}

int
csrf_same_origin(const char *origin, const char *fetch_site, const char *host, int https)
{
	if (fetch_site != NULL && strcmp(fetch_site, "same-origin") != 0)
		return 0;
	if (origin == NULL)
		return 1;
	const char *scheme = https ? "https://" : "http://";
	size_t n = strlen(scheme);
	if (host == NULL || *host == '\0' || strncmp(origin, scheme, n) != 0)
		return 0;
	return strcasecmp(origin + n, host) == 0;
}
