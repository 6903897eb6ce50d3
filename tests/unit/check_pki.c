/* Unit tests for common/pki: the development CA, issued certificates, file modes, names. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/pki.h"

static char err[1024];
static char dir[64], dir2[64];

static void
rm_tree(const char *d)
{
	DIR *dp = opendir(d);
	if (dp == NULL)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
		unlink(path);
	}
	closedir(dp);
	rmdir(d);
}

static void
setup(void)
{
	strcpy(dir, "/tmp/pgfleet-pki-XXXXXX");
	strcpy(dir2, "/tmp/pgfleet-pki2-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir2));
}

static void
teardown(void)
{
	rm_tree(dir);
	rm_tree(dir2);
}

static X509 *
load_cert(const char *d, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.crt", d, name);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* X509_verify_cert of d/name.crt against the CA of cadir; returns the verify error (X509_V_OK). */
static int
verify(const char *cadir, const char *d, const char *name)
{
	X509 *ca = load_cert(cadir, "ca"), *leaf = load_cert(d, name);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	ck_assert_int_eq(X509_STORE_add_cert(store, ca), 1);
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	int ok = X509_verify_cert(ctx);
	int e = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(leaf);
	return ok == 1 ? X509_V_OK : (e == X509_V_OK ? -1 : e);
}

static int
mode_of(const char *d, const char *file)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", d, file);
	ck_assert_int_eq(stat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

START_TEST(test_pki_init_writes_ca_key_0600_and_cert_0644)
{
	mode_t old = umask(077); /* the certificate stays 0644 whatever the umask */
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), 0);
	umask(old);
	ck_assert_int_eq(mode_of(dir, "ca.key"), 0600);
	ck_assert_int_eq(mode_of(dir, "ca.crt"), 0644);
	X509 *ca = load_cert(dir, "ca");
	ck_assert_int_eq(X509_check_ca(ca), 1);
	X509_free(ca);
}
END_TEST

START_TEST(test_pki_init_makes_missing_dir_0700)
{
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(pki_init(sub, 30, err, sizeof(err)), 0);
	ck_assert_int_eq(mode_of(dir, "sub"), 0700);
	rm_tree(sub);
}
END_TEST

START_TEST(test_pki_issue_chain_verifies)
{
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue(dir, "web-01", 10, err, sizeof(err)), 0);
	ck_assert_int_eq(mode_of(dir, "web-01.key"), 0600);
	ck_assert_int_eq(mode_of(dir, "web-01.crt"), 0644);
	ck_assert_int_eq(verify(dir, dir, "web-01"), X509_V_OK);
}
END_TEST

START_TEST(test_pki_issue_names_cn_and_dns_san)
{
	struct pki_opts o = {.days = 10, .localhost = 1};
	char cn[128];
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue(dir, "sched-a", 10, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue_opts(dir, "web-02.corp.example", &o, err, sizeof(err)), 0);
	X509 *c = load_cert(dir, "sched-a");
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn)), 0);
	ck_assert_str_eq(cn, "sched-a");
	ck_assert_int_eq(X509_check_host(c, "sched-a", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL), 1);
	ck_assert_int_eq(X509_check_host(c, "localhost", 0, 0, NULL), 0);
	ck_assert_int_eq(X509_check_ip_asc(c, "127.0.0.1", 0), 0);
	X509_free(c);
	c = load_cert(dir, "web-02.corp.example");
	ck_assert_int_eq(X509_check_host(c, "web-02.corp.example", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL), 1);
	ck_assert_int_eq(X509_check_host(c, "localhost", 0, 0, NULL), 1);
	ck_assert_int_eq(X509_check_ip_asc(c, "127.0.0.1", 0), 1);
	X509_free(c);
}
END_TEST

START_TEST(test_pki_serials_are_random)
{
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue(dir, "a", 10, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue(dir, "b", 10, err, sizeof(err)), 0);
	X509 *a = load_cert(dir, "a"), *b = load_cert(dir, "b");
	ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
	ck_assert_int_ge(ASN1_STRING_length(X509_get0_serialNumber(a)), 15);
	X509_free(a);
	X509_free(b);
}
END_TEST

START_TEST(test_pki_refuses_bad_names)
{
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue(dir, "../x", 10, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "certificate name \"../x\" is not valid (letters, digits, '.', '_', '-'; "
			      "starting with a letter or digit)");
	ck_assert_int_eq(pki_issue(dir, "a/b", 10, err, sizeof(err)), -1);
	ck_assert_int_eq(pki_issue(dir, "-x", 10, err, sizeof(err)), -1);
	ck_assert_int_eq(pki_issue(dir, ".hidden", 10, err, sizeof(err)), -1);
	ck_assert_int_eq(pki_issue(dir, "a b", 10, err, sizeof(err)), -1);
	ck_assert_int_eq(pki_issue(dir, "", 10, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "certificate name is empty");
	ck_assert_int_eq(pki_issue(dir, "ca", 10, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "certificate name \"ca\" is reserved for the authority");
	char longname[PKI_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(pki_issue(dir, longname, 10, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "certificate name is longer than 64 characters");
	longname[PKI_NAME_MAX] = '\0';
	ck_assert_int_eq(pki_name_valid(longname, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_name_valid("db_01.x-y", err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_pki_never_replaces_files)
{
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), 0);
	char want[256];
	snprintf(want, sizeof(want), "%s/ca.crt: already exists, not replaced", dir);
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(pki_issue(dir, "web-01", 10, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue(dir, "web-01", 10, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/web-01.crt: already exists, not replaced", dir);
	ck_assert_str_eq(err, want);
	/* a key left without its certificate is not overwritten either */
	char path[256];
	snprintf(path, sizeof(path), "%s/web-01.crt", dir);
	unlink(path);
	ck_assert_int_eq(pki_issue(dir, "web-01", 10, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/web-01.key: already exists, not replaced", dir);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_pki_issue_without_ca_fails)
{
	ck_assert_int_eq(pki_issue(dir, "web-01", 10, err, sizeof(err)), -1);
	char want[256];
	snprintf(want, sizeof(want), "%s/ca.crt: No such file or directory (run \"pgfleet pki init\" first)", dir);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_pki_refuses_bad_validity)
{
	ck_assert_int_eq(pki_init(dir, 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "validity of 0 days is out of range (1 to 36500)");
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue(dir, "x", 36501, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "validity of 36501 days is out of range (1 to 36500)");
	struct pki_opts o = {.days = 1, .backdate = -5};
	ck_assert_int_eq(pki_issue_opts(dir, "x", &o, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "backdate of -5 seconds is out of range");
}
END_TEST

START_TEST(test_pki_backdated_certificate_is_expired)
{
	struct pki_opts o = {.days = 1, .backdate = 2 * 86400};
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue_opts(dir, "old", &o, err, sizeof(err)), 0);
	ck_assert_int_eq(verify(dir, dir, "old"), X509_V_ERR_CERT_HAS_EXPIRED);
}
END_TEST

START_TEST(test_pki_other_ca_does_not_verify)
{
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_init(dir2, 30, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue(dir2, "intruder", 10, err, sizeof(err)), 0);
	ck_assert_int_eq(verify(dir2, dir2, "intruder"), X509_V_OK);
	ck_assert_int_ne(verify(dir, dir2, "intruder"), X509_V_OK);
}
END_TEST

START_TEST(test_pki_cert_new_in_memory_verifies_with_role_and_name)
{
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	ck_assert_int_eq(pki_ca_load(dir, &ca, &ca_key, err, sizeof(err)), -1);
	ck_assert_int_eq(pki_init(dir, 30, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_ca_load(dir, &ca, &ca_key, err, sizeof(err)), 0);
	EVP_PKEY *key = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(key);
	struct pki_opts o = {.days = 1};
	X509 *a = pki_cert_new("sim-1", key, ca, ca_key, &o, err, sizeof(err));
	X509 *b = pki_cert_new("sim-2", key, ca, ca_key, &o, err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	/* one key pair, two computers: each certificate names its own */
	char cn[64], ou[64];
	X509_NAME_get_text_by_NID(X509_get_subject_name(b), NID_commonName, cn, sizeof(cn));
	X509_NAME_get_text_by_NID(X509_get_subject_name(b), NID_organizationalUnitName, ou, sizeof(ou));
	ck_assert_str_eq(cn, "sim-2");
	ck_assert_str_eq(ou, "agent");
	ck_assert_int_eq(X509_check_private_key(a, key), 1);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	ck_assert_int_eq(X509_STORE_add_cert(store, ca), 1);
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, a, NULL), 1);
	ck_assert_int_eq(X509_verify_cert(ctx), 1);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ck_assert_ptr_null(pki_cert_new("bad name", key, ca, ca_key, &o, err, sizeof(err)));
	ck_assert_str_eq(err, "certificate name \"bad name\" is not valid (letters, digits, '.', '_', '-'; "
			      "starting with a letter or digit)");
	X509_free(a);
	X509_free(b);
	EVP_PKEY_free(key);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}
END_TEST

Suite *
pki_suite(void)
{
	Suite *s = suite_create("pki");
	TCase *tc = tcase_create("pki");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pki_init_writes_ca_key_0600_and_cert_0644);
	tcase_add_test(tc, test_pki_init_makes_missing_dir_0700);
	tcase_add_test(tc, test_pki_issue_chain_verifies);
	tcase_add_test(tc, test_pki_issue_names_cn_and_dns_san);
	tcase_add_test(tc, test_pki_serials_are_random);
	tcase_add_test(tc, test_pki_refuses_bad_names);
	tcase_add_test(tc, test_pki_never_replaces_files);
	tcase_add_test(tc, test_pki_issue_without_ca_fails);
	tcase_add_test(tc, test_pki_refuses_bad_validity);
	tcase_add_test(tc, test_pki_backdated_certificate_is_expired);
	tcase_add_test(tc, test_pki_other_ca_does_not_verify);
	tcase_add_test(tc, test_pki_cert_new_in_memory_verifies_with_role_and_name);
	suite_add_tcase(s, tc);
	return s;
}
