/* Unit tests for cli/migrate: file names, loading a folder, checksums, the plan. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/migrate.h"

static char err[1024];
static char dir[64];

static void
put_file(const char *name, const char *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pgfleet-migrate-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_migrate_check_name_accepts_numbered_sql)
{
	ck_assert_int_eq(migrate_check_name("0001_init.sql", err, sizeof(err)), 0);
	ck_assert_int_eq(migrate_check_name("0002_add-index.sql", err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_migrate_check_name_refuses_bad_names)
{
	ck_assert_int_eq(migrate_check_name("0001_init.txt", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "migration file 0001_init.txt: the name must end in .sql");
	ck_assert_int_eq(migrate_check_name("init.sql", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "migration file init.sql: the name must start with its number (0001_init.sql)");
	ck_assert_int_eq(migrate_check_name("0001 init.sql", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "migration file 0001 init.sql: the name may hold only letters, digits, _ and -");
	ck_assert_int_eq(migrate_check_name(".sql", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "migration file .sql: the name must end in .sql");
}
END_TEST

START_TEST(test_migrate_load_dir_sorts_sql_files_and_skips_others)
{
	struct migrate_set set;
	put_file("0002_b.sql", "SELECT 2;\n", 10);
	put_file("0001_a.sql", "abc", 3);
	put_file("README.md", "not a migration", 15);
	ck_assert_int_eq(migrate_load_dir(dir, &set, err, sizeof(err)), 0);
	ck_assert_int_eq(set.n, 2);
	ck_assert_str_eq(set.files[0].version, "0001_a");
	ck_assert_str_eq(set.files[0].sql, "abc");
	ck_assert_uint_eq(set.files[0].len, 3);
	ck_assert_str_eq(set.files[0].checksum,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_str_eq(set.files[1].version, "0002_b");
	ck_assert_str_eq(set.files[1].sql, "SELECT 2;\n");
	migrate_set_free(&set);
	ck_assert_int_eq(set.n, 0);
	migrate_set_free(NULL);
}
END_TEST

START_TEST(test_migrate_load_dir_refuses_missing_and_empty_folders)
{
	struct migrate_set set;
	ck_assert_int_eq(migrate_load_dir("/nonexistent-pgfleet", &set, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "migration folder /nonexistent-pgfleet: No such file or directory");
	ck_assert_int_eq(migrate_load_dir(dir, &set, err, sizeof(err)), -1);
	char want[256];
	snprintf(want, sizeof(want), "migration folder %s: no .sql file", dir);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_migrate_load_dir_refuses_nul_byte_and_bad_name)
{
	struct migrate_set set;
	put_file("0001_a.sql", "SELECT\0 1;", 10);
	ck_assert_int_eq(migrate_load_dir(dir, &set, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "migration file 0001_a.sql: holds a NUL byte");
	ck_assert_int_eq(set.n, 0);
	put_file("0001_a.sql", "SELECT 1;", 9);
	put_file("first.sql", "SELECT 1;", 9);
	ck_assert_int_eq(migrate_load_dir(dir, &set, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "migration file first.sql: the name must start with its number (0001_init.sql)");
	ck_assert_ptr_null(set.files);
}
END_TEST

START_TEST(test_migrate_embedded_holds_the_migrations_folder)
{
	struct migrate_set emb, disk;
	ck_assert_int_eq(migrate_load_embedded(&emb, err, sizeof(err)), 0);
	/* make runs the unit tests from the top of the tree */
	ck_assert_int_eq(migrate_load_dir("migrations", &disk, err, sizeof(err)), 0);
	ck_assert_int_ge(emb.n, 1);
	ck_assert_int_eq(emb.n, disk.n);
	ck_assert_str_eq(emb.files[0].version, "0001_init");
	for (int i = 0; i < emb.n; i++) {
		ck_assert_str_eq(emb.files[i].version, disk.files[i].version);
		ck_assert_str_eq(emb.files[i].checksum, disk.files[i].checksum);
		ck_assert_uint_eq(emb.files[i].len, strlen(emb.files[i].sql));
	}
	migrate_set_free(&emb);
	migrate_set_free(&disk);
}
END_TEST

static struct migrate_file files3[3] = {
	{"0001_a", "a", 1, "aaaa"},
	{"0002_b", "b", 1, "bbbb"},
	{"0003_c", "c", 1, "cccc"},
};

START_TEST(test_migrate_plan_marks_applied_changed_and_pending)
{
	struct migrate_set set = {files3, 3};
	struct migrate_applied applied[2] = {
		{"0001_a", "aaaa", "2026-01-01 00:00:00 UTC"},
		{"0002_b", "b0b0", "2026-01-02 00:00:00 UTC"},
	};
	struct migrate_step *s;
	char msg[512];
	ck_assert_int_eq(migrate_plan(&set, applied, 2, &s), 3);
	ck_assert_int_eq(s[0].state, MIGRATE_APPLIED);
	ck_assert_int_eq(migrate_step_problem(&s[0], msg, sizeof(msg)), 0);
	ck_assert_int_eq(s[1].state, MIGRATE_CHANGED);
	ck_assert_int_eq(migrate_step_problem(&s[1], msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "migration 0002_b.sql changed since it was applied (applied checksum b0b0, "
			      "file checksum bbbb): never edit an applied migration, add a new one");
	ck_assert_int_eq(s[2].state, MIGRATE_PENDING);
	ck_assert_ptr_null(s[2].applied);
	ck_assert_ptr_eq(s[2].file, &files3[2]);
	ck_assert_int_eq(migrate_step_problem(&s[2], msg, sizeof(msg)), 0);
	free(s);
}
END_TEST

START_TEST(test_migrate_plan_refuses_pending_before_applied)
{
	struct migrate_set set = {files3, 2};
	struct migrate_applied applied[2] = {
		{"0001_a", "aaaa", "t1"},
		{"0009_z", "zzzz", "t2"},
	};
	struct migrate_step *s;
	char msg[512];
	ck_assert_int_eq(migrate_plan(&set, applied, 2, &s), 3);
	ck_assert_int_eq(s[0].state, MIGRATE_APPLIED);
	ck_assert_int_eq(s[1].state, MIGRATE_OUT_OF_ORDER);
	ck_assert_int_eq(migrate_step_problem(&s[1], msg, sizeof(msg)), 1);
	ck_assert_str_eq(msg, "migration 0002_b.sql is pending but a later one is already applied: "
			      "renumber it after the last applied migration");
	ck_assert_str_eq(s[2].version, "0009_z");
	ck_assert_int_eq(s[2].state, MIGRATE_UNKNOWN);
	ck_assert_ptr_null(s[2].file);
	ck_assert_int_eq(migrate_step_problem(&s[2], msg, sizeof(msg)), 0);
	free(s);
}
END_TEST

START_TEST(test_migrate_plan_of_empty_database_is_all_pending)
{
	struct migrate_set set = {files3, 3};
	struct migrate_step *s;
	ck_assert_int_eq(migrate_plan(&set, NULL, 0, &s), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(s[i].state, MIGRATE_PENDING);
	free(s);
	ck_assert_str_eq(migrate_state_name(MIGRATE_PENDING), "pending");
	ck_assert_str_eq(migrate_state_name(MIGRATE_APPLIED), "applied");
	ck_assert_str_eq(migrate_state_name(MIGRATE_CHANGED), "changed");
	ck_assert_str_eq(migrate_state_name(MIGRATE_OUT_OF_ORDER), "out-of-order");
	ck_assert_str_eq(migrate_state_name(MIGRATE_UNKNOWN), "unknown");
}
END_TEST

Suite *
migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_migrate_check_name_accepts_numbered_sql);
	tcase_add_test(tc, test_migrate_check_name_refuses_bad_names);
	tcase_add_test(tc, test_migrate_load_dir_sorts_sql_files_and_skips_others);
	tcase_add_test(tc, test_migrate_load_dir_refuses_missing_and_empty_folders);
	tcase_add_test(tc, test_migrate_load_dir_refuses_nul_byte_and_bad_name);
	tcase_add_test(tc, test_migrate_embedded_holds_the_migrations_folder);
	suite_add_tcase(s, tc);
	tc = tcase_create("plan");
	tcase_add_test(tc, test_migrate_plan_marks_applied_changed_and_pending);
	tcase_add_test(tc, test_migrate_plan_refuses_pending_before_applied);
	tcase_add_test(tc, test_migrate_plan_of_empty_database_is_all_pending);
	suite_add_tcase(s, tc);
	return s;
}
