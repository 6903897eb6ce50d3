/*
 * pki: a development certificate authority made with OpenSSL's API: EC P-256
 * keys, X509 v3 certificates (CN and DNS SAN = name), random 128-bit serials.
 * Writes PEM files only (keys 0600, certificates 0644, never overwriting);
 * nothing is returned for the caller to free.
 */
#ifndef PGFLEET_PKI_H
#define PGFLEET_PKI_H

#include <stddef.h>

#include <openssl/types.h>

struct pki_opts {
	int days;          /* validity in days, from the start */
	long backdate;     /* start this many seconds before now (tests: expired certificates) */
	int localhost;     /* also name DNS:localhost and IP:127.0.0.1 */
	const char *role;  /* TLS_ROLE_SCHEDULER or TLS_ROLE_AGENT (NULL: agent), the subject's OU */
};

/* The longest name accepted (a CN holds at most 64 characters). */
#define PKI_NAME_MAX 64

/* Make dir (0700 when missing), dir/ca.key and dir/ca.crt. 0, or -1 with err. */
int pki_init(const char *dir, int days, char *err, size_t errlen);
/* Issue dir/<name>.key and dir/<name>.crt signed by dir/ca.*. 0, or -1 with err. */
int pki_issue(const char *dir, const char *name, int days, char *err, size_t errlen);
int pki_issue_opts(const char *dir, const char *name, const struct pki_opts *o, char *err, size_t errlen);
/*
 * In memory, for tools that need many certificates at once (the fleet
 * simulator): dir's CA (*cert and *key are the caller's: X509_free,
 * EVP_PKEY_free), and a certificate for name and key signed by it, as
 * pki_issue_opts would write it (X509_free). 0 / NULL with err on failure.
 */
int pki_ca_load(const char *dir, X509 **cert, EVP_PKEY **key, char *err, size_t errlen)
    __attribute__((warn_unused_result));
X509 *pki_cert_new(const char *name, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const struct pki_opts *o,
    char *err, size_t errlen) __attribute__((warn_unused_result));
/* [A-Za-z0-9][A-Za-z0-9._-]*, at most PKI_NAME_MAX, not "ca". 0, or -1 with err. */
int pki_name_valid(const char *name, char *err, size_t errlen);

#endif
