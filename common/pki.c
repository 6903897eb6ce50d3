/*
 * pki: the development CA behind "pgfleet pki": keys and certificates built
 * with EVP_PKEY and X509 calls, written with O_EXCL so nothing is replaced.
 */
#include "common/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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
#include "common/util.h"

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
	    X509_gmtime_adj(X509_getm_notAfter(cert), (o->seconds > 0 ? o->seconds : (long)o->days * 86400) -
		o->backdate) == NULL ||
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

/* ---- enrolment: CSRs signed by a loaded CA, keys and CSRs made on the agent ---- */

struct pki_ca {
	X509 *cert;
	EVP_PKEY *key;
};

static X509 *
read_cert_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (c == NULL)
		ossl_err(err, errlen, path);
	return c;
}

struct pki_ca *
pki_ca_open(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	ERR_clear_error();
	struct pki_ca *ca = calloc(1, sizeof(*ca));
	if (ca == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((ca->cert = read_cert_file(cert_path, err, errlen)) == NULL)
		goto fail;
	FILE *f = fopen(key_path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", key_path, strerror(errno));
		goto fail;
	}
	ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (ca->key == NULL) {
		ossl_err(err, errlen, key_path);
		goto fail;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s does not match %s", key_path, cert_path);
		goto fail;
	}
	if (X509_check_ca(ca->cert) == 0) {
		snprintf(err, errlen, "%s is not a certificate authority", cert_path);
		goto fail;
	}
	return ca;
fail:
	pki_ca_free(ca);
	return NULL;
}

void
pki_ca_free(struct pki_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

int
pki_serial_hex(X509 *cert, char out[PKI_SERIAL_HEX])
{
	out[0] = '\0';
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	if (bn == NULL)
		return -1;
	char *hex = BN_bn2hex(bn);
	BN_free(bn);
	if (hex == NULL)
		return -1;
	const char *p = hex;
	while (p[0] == '0' && p[1] != '\0')
		p++;
	int rc = strlen(p) < PKI_SERIAL_HEX && p[0] != '-' ? 0 : -1;
	if (rc == 0)
		snprintf(out, PKI_SERIAL_HEX, "%s", p);
	OPENSSL_free(hex);
	return rc;
}

int
pki_pubkey_sha256(EVP_PKEY *key, char out[65])
{
	unsigned char *der = NULL;
	out[0] = '\0';
	int n = i2d_PUBKEY(key, &der);
	if (n <= 0)
		return -1;
	int rc = util_sha256_hex(der, (size_t)n, out);
	OPENSSL_free(der);
	return rc;
}

/* Keys we sign for: EC of at least 256 bits, RSA of at least 2048, Ed25519. */
static int
key_acceptable(EVP_PKEY *k, char *err, size_t errlen)
{
	int bits = EVP_PKEY_get_bits(k);
	if ((EVP_PKEY_is_a(k, "EC") && bits >= 256) || (EVP_PKEY_is_a(k, "RSA") && bits >= 2048) ||
	    EVP_PKEY_is_a(k, "ED25519"))
		return 0;
	snprintf(err, errlen, "key type %s of %d bits is not accepted (EC P-256 or larger, RSA 2048 or "
	    "larger, Ed25519)", EVP_PKEY_get0_type_name(k) != NULL ? EVP_PKEY_get0_type_name(k) : "?", bits);
	return -1;
}

static long long
asn1_time_epoch(const ASN1_TIME *t)
{
	struct tm tm;
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (long long)timegm(&tm);
}

int
pki_csr_check(const char *pem, size_t len, const char *name, char pubkey_sha256[65], char *err,
    size_t errlen)
{
	ERR_clear_error();
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509_REQ *req = b != NULL ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	int rc = -1;
	char cn[PKI_NAME_MAX + 2];
	EVP_PKEY *k = req != NULL ? X509_REQ_get0_pubkey(req) : NULL;
	if (req == NULL) {
		ERR_clear_error();
		snprintf(err, errlen, "not a PEM certificate request");
	} else if (k == NULL || X509_REQ_verify(req, k) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "the request's signature does not verify");
	} else if (key_acceptable(k, err, errlen) == -1) {
		;
	} else if (X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn,
		       sizeof(cn)) < 0 || strcmp(cn, name) != 0) {
		snprintf(err, errlen, "the request's common name is not \"%s\"", name);
	} else if (pki_pubkey_sha256(k, pubkey_sha256) == -1) {
		ossl_err(err, errlen, "public key");
	} else {
		rc = 0;
	}
	X509_REQ_free(req);
	return rc;
}

int
pki_sign_csr(const struct pki_ca *ca, const char *pem, size_t len, const char *name, const char *role,
    long lifetime_s, struct pki_issued *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (pki_name_valid(name, err, errlen) == -1)
		return -1;
	if (lifetime_s < 60 || lifetime_s > (long)PKI_MAX_DAYS * 86400) {
		snprintf(err, errlen, "lifetime of %ld seconds is out of range", lifetime_s);
		return -1;
	}
	if (pki_csr_check(pem, len, name, out->pubkey_sha256, err, errlen) == -1)
		return -1;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509_REQ *req = b != NULL ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (req == NULL) {
		ossl_err(err, errlen, "request");
		return -1;
	}
	/* only the key comes from the request: subject, role and extensions are ours */
	struct pki_opts o = {.days = 1, .seconds = lifetime_s, .role = role};
	X509 *cert = make_cert(name, X509_REQ_get0_pubkey(req), ca->cert, ca->key, &o);
	X509_REQ_free(req);
	int rc = -1;
	BIO *mb = NULL;
	if (cert == NULL) {
		ossl_err(err, errlen, "certificate");
	} else if (pki_serial_hex(cert, out->serial) == -1 || (mb = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(mb, cert) != 1) {
		ossl_err(err, errlen, "certificate");
	} else {
		char *data;
		long n = BIO_get_mem_data(mb, &data);
		out->pem = malloc((size_t)n + 1);
		if (out->pem == NULL) {
			snprintf(err, errlen, "out of memory");
		} else {
			memcpy(out->pem, data, (size_t)n);
			out->pem[n] = '\0';
			out->pem_len = (size_t)n;
			out->not_before = asn1_time_epoch(X509_get0_notBefore(cert));
			out->not_after = asn1_time_epoch(X509_get0_notAfter(cert));
			rc = 0;
		}
	}
	BIO_free(mb);
	X509_free(cert);
	return rc;
}

void
pki_issued_free(struct pki_issued *i)
{
	if (i == NULL)
		return;
	free(i->pem);
	memset(i, 0, sizeof(*i));
}

EVP_PKEY *
pki_key_load_or_create(const char *path, int *created, char *err, size_t errlen)
{
	*created = 0;
	ERR_clear_error();
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (k == NULL)
			ossl_err(err, errlen, path);
		return k;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	EVP_PKEY *k = EVP_EC_gen("P-256");
	if (k == NULL) {
		ossl_err(err, errlen, "key");
		return NULL;
	}
	if (write_pem(path, 0600, k, NULL, err, errlen) == -1) {
		EVP_PKEY_free(k);
		return NULL;
	}
	*created = 1;
	return k;
}

char *
pki_csr_pem(EVP_PKEY *key, const char *name, char *err, size_t errlen)
{
	if (pki_name_valid(name, err, errlen) == -1)
		return NULL;
	ERR_clear_error();
	X509_REQ *req = X509_REQ_new();
	BIO *mb = BIO_new(BIO_s_mem());
	char *pem = NULL;
	X509_NAME *subj = req != NULL ? X509_REQ_get_subject_name(req) : NULL;
	if (req == NULL || mb == NULL || X509_REQ_set_version(req, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    PEM_write_bio_X509_REQ(mb, req) != 1) {
		ossl_err(err, errlen, "certificate request");
	} else {
		char *data;
		long n = BIO_get_mem_data(mb, &data);
		if ((pem = malloc((size_t)n + 1)) == NULL) {
			snprintf(err, errlen, "out of memory");
		} else {
			memcpy(pem, data, (size_t)n);
			pem[n] = '\0';
		}
	}
	BIO_free(mb);
	X509_REQ_free(req);
	return pem;
}

int
pki_cert_file_info(const char *path, struct pki_cert_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof(*info));
	ERR_clear_error();
	X509 *c = read_cert_file(path, err, errlen);
	if (c == NULL)
		return -1;
	int rc = -1;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, info->cn,
		sizeof(info->cn)) < 0)
		snprintf(err, errlen, "%s: no common name", path);
	else if (pki_serial_hex(c, info->serial) == -1)
		ossl_err(err, errlen, path);
	else {
		info->not_before = asn1_time_epoch(X509_get0_notBefore(c));
		info->not_after = asn1_time_epoch(X509_get0_notAfter(c));
		rc = 0;
	}
	X509_free(c);
	ERR_clear_error();
	return rc;
}

int
pki_cert_matches_key(const char *pem, size_t len, EVP_PKEY *key, const char *name, char *err,
    size_t errlen)
{
	ERR_clear_error();
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *c = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	char cn[PKI_NAME_MAX + 2];
	int rc = -1;
	if (c == NULL)
		snprintf(err, errlen, "not a PEM certificate");
	else if (X509_check_private_key(c, key) != 1)
		snprintf(err, errlen, "the certificate is not for our key");
	else if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn)) < 0 ||
	    strcmp(cn, name) != 0)
		snprintf(err, errlen, "the certificate does not name \"%s\"", name);
	else
		rc = 0;
	X509_free(c);
	ERR_clear_error();
	return rc;
}

int
pki_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err, size_t errlen)
{
	char tmp[4200];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	const char *p = data;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
