/*
 * pki: the development CA behind "pgfleet pki": keys and certificates built
 * with EVP_PKEY and X509 calls, written with O_EXCL so nothing is replaced.
 */
#include "common/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/fsutil.h"
#include "common/tls.h"

#define PKI_CA_CN "pgfleet development CA"
#define PKI_MAX_DAYS 36500

int
pki_name_valid(const char *name, char *err, size_t errlen)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0) {
		snprintf(err, errlen, "certificate name is empty");
		return -1;
	}
	if (n > PKI_NAME_MAX) {
		snprintf(err, errlen, "certificate name is longer than %d characters", PKI_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
			snprintf(err, errlen, "certificate name \"%.64s\" is not valid (letters, digits, '.', '_', '-'; "
					      "starting with a letter or digit)", name);
			return -1;
		}
	}
	if (strcmp(name, "ca") == 0) {
		snprintf(err, errlen, "certificate name \"ca\" is reserved for the authority");
		return -1;
	}
	return 0;
}

static int
days_valid(int days, char *err, size_t errlen)
{
	if (days < 1 || days > PKI_MAX_DAYS) {
		snprintf(err, errlen, "validity of %d days is out of range (1 to %d)", days, PKI_MAX_DAYS);
		return -1;
	}
	return 0;
}

static void
ossl_err(char *err, size_t errlen, const char *what)
{
	char why[512];
	snprintf(err, errlen, "%s: %s", what, tls_error_string(why, sizeof(why)));
}

static int
ensure_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (fsutil_mkdirs(dir, 0700) == -1) {
		snprintf(err, errlen, "directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "directory %s: not a directory", dir);
		return -1;
	}
	return 0;
}

/* Create path exclusively with mode; write key or cert as PEM. On error nothing is left. */
static int
write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, errno == EEXIST ? "already exists, not replaced" : strerror(errno));
		return -1;
	}
	/* the umask may have taken bits off a certificate's 0644 */
	if (fchmod(fd, mode) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail_fd;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail_fd;
	}
	int ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
	if (!ok) {
		ossl_err(err, errlen, path);
		fclose(f);
		unlink(path);
		return -1;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(f);
		unlink(path);
		return -1;
	}
	if (fclose(f) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
fail_fd:
	close(fd);
	unlink(path);
	return -1;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int
random_serial(X509 *cert)
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[0] &= 0x7f; /* positive, 16 octets at most */
	b[0] |= 0x01; /* never zero */
	BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn == NULL)
		return -1;
	ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	if (ai == NULL)
		return -1;
	int ok = X509_set_serialNumber(cert, ai);
	ASN1_INTEGER_free(ai);
	return ok ? 0 : -1;
}

/*
 * A certificate for key with subject CN=cn, signed by issuer_key (issuer
 * NULL: self-signed CA).
 */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const struct pki_opts *o)
{
	X509 *cert = X509_new();
	if (cert == NULL)
		return NULL;
	X509_NAME *subj = X509_get_subject_name(cert);
	/* a leaf's role is its OU (common/tls.h): only the CA can say it */
	const char *role = o->role != NULL ? o->role : TLS_ROLE_AGENT;
	if (X509_set_version(cert, 2) != 1 || random_serial(cert) == -1 ||
	    X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC, (const unsigned char *)"pgfleet", -1, -1, 0) != 1 ||
	    (issuer != NULL &&
		X509_NAME_add_entry_by_txt(subj, "OU", MBSTRING_ASC, (const unsigned char *)role, -1, -1, 0) != 1) ||
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : subj) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -o->backdate) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert), (long)o->days * 86400 - o->backdate) == NULL ||
	    X509_set_pubkey(cert, key) != 1)
		goto fail;
	X509 *iss = issuer != NULL ? issuer : cert;
	if (add_ext(cert, iss, NID_subject_key_identifier, "hash") == -1)
		goto fail;
	if (issuer == NULL) {
		if (add_ext(cert, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == -1 ||
		    add_ext(cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign") == -1)
			goto fail;
	} else {
		char san[3 * PKI_NAME_MAX + 64];
		snprintf(san, sizeof(san), "DNS:%s%s", cn, o->localhost ? ",DNS:localhost,IP:127.0.0.1" : "");
		if (add_ext(cert, iss, NID_authority_key_identifier, "keyid:always") == -1 ||
		    add_ext(cert, iss, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
		    add_ext(cert, iss, NID_key_usage, "critical,digitalSignature") == -1 ||
		    add_ext(cert, iss, NID_ext_key_usage, "serverAuth,clientAuth") == -1 ||
		    add_ext(cert, iss, NID_subject_alt_name, san) == -1)
			goto fail;
	}
	if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0)
		goto fail;
	return cert;
fail:
	X509_free(cert);
	return NULL;
}

static int
write_pair(const char *dir, const char *name, EVP_PKEY *key, X509 *cert, char *err, size_t errlen)
{
	char kpath[4096], cpath[4096];
	if ((size_t)snprintf(kpath, sizeof(kpath), "%s/%s.key", dir, name) >= sizeof(kpath) ||
	    (size_t)snprintf(cpath, sizeof(cpath), "%s/%s.crt", dir, name) >= sizeof(cpath)) {
		snprintf(err, errlen, "directory %s: path too long", dir);
		return -1;
	}
	/* refuse before writing anything when the certificate is already there */
	if (access(cpath, F_OK) == 0) {
		snprintf(err, errlen, "%s: already exists, not replaced", cpath);
		return -1;
	}
	if (write_pem(kpath, 0600, key, NULL, err, errlen) == -1)
		return -1;
	if (write_pem(cpath, 0644, NULL, cert, err, errlen) == -1) {
		unlink(kpath);
		return -1;
	}
	return 0;
}

int
pki_init(const char *dir, int days, char *err, size_t errlen)
{
	struct pki_opts o = {.days = days};

	if (days_valid(days, err, errlen) == -1 || ensure_dir(dir, err, errlen) == -1)
		return -1;
	ERR_clear_error();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (key == NULL) {
		ossl_err(err, errlen, "ca key");
		return -1;
	}
	X509 *cert = make_cert(PKI_CA_CN, key, NULL, key, &o);
	int rc = -1;
	if (cert == NULL)
		ossl_err(err, errlen, "ca certificate");
	else
		rc = write_pair(dir, "ca", key, cert, err, errlen);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int
pki_ca_load(const char *dir, X509 **cert, EVP_PKEY **key, char *err, size_t errlen)
{
	char path[4096];
	FILE *f;

	*cert = NULL;
	*key = NULL;
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s (run \"pgfleet pki init\" first)", path, strerror(errno));
		return -1;
	}
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (*cert == NULL) {
		ossl_err(err, errlen, path);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (*key == NULL) {
		ossl_err(err, errlen, path);
		goto fail;
	}
	if (X509_check_private_key(*cert, *key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s does not match %s/ca.crt", path, dir);
		goto fail;
	}
	return 0;
fail:
	X509_free(*cert);
	EVP_PKEY_free(*key);
	*cert = NULL;
	*key = NULL;
	return -1;
}

static int
opts_valid(const char *name, const struct pki_opts *o, char *err, size_t errlen)
{
	if (pki_name_valid(name, err, errlen) == -1 || days_valid(o->days, err, errlen) == -1)
		return -1;
	if (o->backdate < 0 || o->backdate > (long)PKI_MAX_DAYS * 86400) {
		snprintf(err, errlen, "backdate of %ld seconds is out of range", o->backdate);
		return -1;
	}
	return 0;
}

X509 *
pki_cert_new(const char *name, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const struct pki_opts *o,
    char *err, size_t errlen)
{
	if (opts_valid(name, o, err, errlen) == -1)
		return NULL;
	ERR_clear_error();
	X509 *cert = make_cert(name, key, ca, ca_key, o);
	if (cert == NULL)
		ossl_err(err, errlen, "certificate");
	return cert;
}

int
pki_issue_opts(const char *dir, const char *name, const struct pki_opts *o, char *err, size_t errlen)
{
	X509 *ca;
	EVP_PKEY *ca_key;

	if (opts_valid(name, o, err, errlen) == -1)
		return -1;
	ERR_clear_error();
	if (pki_ca_load(dir, &ca, &ca_key, err, errlen) == -1)
		return -1;
	int rc = -1;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = NULL;
	if (key == NULL) {
		ossl_err(err, errlen, "key");
	} else if ((cert = pki_cert_new(name, key, ca, ca_key, o, err, errlen)) != NULL) {
		rc = write_pair(dir, name, key, cert, err, errlen);
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rc;
}

int
pki_issue(const char *dir, const char *name, int days, char *err, size_t errlen)
{
	struct pki_opts o = {.days = days};
	return pki_issue_opts(dir, name, &o, err, errlen);
}
