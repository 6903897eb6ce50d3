/*
 * pki: a development certificate authority made with OpenSSL's API: EC P-256
 * keys, X509 v3 certificates (CN and DNS SAN = name), random 128-bit serials.
 * Writes PEM files only (keys 0600, certificates 0644, never overwriting);
 * nothing is returned for the caller to free.
 */
#ifndef PGFLEET_PKI_H
#define PGFLEET_PKI_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <openssl/types.h>

struct pki_opts {
	int days;          /* validity in days, from the start */
	long backdate;     /* start this many seconds before now (tests: expired certificates) */
	int localhost;     /* also name DNS:localhost and IP:127.0.0.1 */
	const char *role;  /* TLS_ROLE_SCHEDULER or TLS_ROLE_AGENT (NULL: agent), the subject's OU */
	long seconds;      /* when > 0: validity in seconds instead of days (the enrolment service) */
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

/*
 * Enrolment (docs/enrolment.md): the scheduler's service loads its CA once and signs
 * certificate requests; the agent makes its key on the host and a request for it.
 */
#define PKI_SERIAL_HEX 41  /* a serial as upper-case hex without leading zeros, and a NUL */

struct pki_ca;
/* The CA of cert_path and key_path (they must match; a CA certificate). Free with pki_ca_free. */
struct pki_ca *pki_ca_open(const char *cert_path, const char *key_path, char *err, size_t errlen);
void pki_ca_free(struct pki_ca *ca);

/* What pki_sign_csr made; pem is malloc'd, freed by pki_issued_free. */
struct pki_issued {
	char *pem;
	size_t pem_len;
	char serial[PKI_SERIAL_HEX];
	char pubkey_sha256[65];      /* of the DER SubjectPublicKeyInfo */
	long long not_before, not_after;  /* seconds since the epoch */
};
/*
 * A PEM certificate request whose signature verifies, whose key is acceptable (EC of 256
 * bits or more, RSA of 2048 or more, Ed25519) and whose CN is name: 0 with the key's
 * sha256, or -1 with err.
 */
int pki_csr_check(const char *pem, size_t len, const char *name, char pubkey_sha256[65], char *err,
    size_t errlen) __attribute__((warn_unused_result));
/*
 * Sign the request's key (pki_csr_check first) for lifetime_s seconds: subject
 * O=pgfleet, OU=role, CN=name; nothing else of the request is copied. 0, or -1 with err.
 */
int pki_sign_csr(const struct pki_ca *ca, const char *pem, size_t len, const char *name, const char *role,
    long lifetime_s, struct pki_issued *out, char *err, size_t errlen) __attribute__((warn_unused_result));
void pki_issued_free(struct pki_issued *i);
/* The certificate's serial (PKI_SERIAL_HEX), the key's sha256. 0, or -1. */
int pki_serial_hex(X509 *cert, char out[PKI_SERIAL_HEX]);
int pki_pubkey_sha256(EVP_PKEY *key, char out[65]);

/* The agent's key at path, or a new EC P-256 key written there 0600 (*created = 1).
 * NULL with err. The caller frees it with EVP_PKEY_free. */
EVP_PKEY *pki_key_load_or_create(const char *path, int *created, char *err, size_t errlen);
/* A PEM request (CN=name) signed by key; malloc'd, NULL with err. */
char *pki_csr_pem(EVP_PKEY *key, const char *name, char *err, size_t errlen);
/* 0 when the PEM certificate is for key and names name; -1 with err. */
int pki_cert_matches_key(const char *pem, size_t len, EVP_PKEY *key, const char *name, char *err,
    size_t errlen) __attribute__((warn_unused_result));

struct pki_cert_info {
	char cn[PKI_NAME_MAX + 2];
	char serial[PKI_SERIAL_HEX];
	long long not_before, not_after;
};
/* The certificate file's name, serial and validity. 0, or -1 with err. */
int pki_cert_file_info(const char *path, struct pki_cert_info *info, char *err, size_t errlen);
/* Write data to path through a temporary file and rename (mode applied). 0, or -1 with err. */
int pki_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err,
    size_t errlen) __attribute__((warn_unused_result));

#endif
