/* Unit tests for agent/facts: every gatherer against a fake root directory; absent stays absent. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/facts.h"
#include "common/json.h"

static char root[64];

static void
put(const char *rel, const char *text)
{
	char path[512], dir[512];
	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + strlen(root) + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0755);
			*p = '/';
		}
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void
setup(void)
{
	strcpy(root, "/tmp/pgfleet-facts-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void
teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}

static void
host_tree(void)
{
	put("/etc/os-release", "NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n"
	    "PRETTY_NAME='Debian GNU/Linux 12 (bookworm)'\n# a comment\nBOGUS\n");
	put("/etc/hosts", "127.0.0.1 localhost\n10.0.0.11 web-01.corp.example web-01 # ours\n");
	put("/etc/resolv.conf", "# generated\nsearch corp.example lab.example\nnameserver 10.0.0.2\n"
	    "nameserver 10.0.0.3\n");
	put("/proc/cpuinfo", "processor\t: 0\nmodel name\t: Test CPU @ 2.0GHz\n\nprocessor\t: 1\n"
	    "model name\t: Test CPU @ 2.0GHz\n");
	put("/proc/meminfo", "MemTotal:        8388608 kB\nMemFree:  1 kB\n");
	put("/proc/stat", "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n");
	put("/proc/net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
	    "eth1\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
	    "eth1\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\n");
	put("/sys/class/net/eth0/address", "52:54:00:00:00:01\n");
	put("/sys/class/net/eth1/address", "52:54:00:00:00:02\n");
	put("/sys/class/net/lo/address", "00:00:00:00:00:00\n");
	put("/sys/block/sda/size", "2097152\n");
	put("/sys/block/sda/device/model", "VIRTUAL DISK    \n");
	put("/sys/block/loop0/size", "100\n");
	put("/sys/class/dmi/id/sys_vendor", "Acme\n");
	put("/sys/class/dmi/id/product_name", "Rack 9000\n");
	put("/sys/class/dmi/id/product_serial", "SN-42\n");
	put("/sys/class/dmi/id/chassis_asset_tag", "To Be Filled By O.E.M.\n");
}

static const struct facts_addr addrs[] = {
	{"eth1", AF_INET, "10.0.0.11", 24},
	{"eth1", AF_INET6, "fe80::1", 64},
	{"eth0", AF_INET, "192.168.7.5", 24},
};

START_TEST(test_facts_from_a_fake_root_are_read_as_the_host_gives_them)
{
	host_tree();
	struct facts_input in = {.root = root, .nodename = "web-01", .sysname = "Linux", .release = "6.1.0",
	    .machine = "x86_64", .addrs = addrs, .naddrs = 3, .agent_version = "0.9.0"};
	char *doc = facts_build(&in), err[200];
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(json_check_object(doc, strlen(doc), 16, err, sizeof(err)), 0);
	ck_assert_str_eq(doc,
	    "{\"hostname\":\"web-01\",\"fqdn\":\"web-01.corp.example\",\"domain\":\"corp.example\","
	    "\"dns\":{\"search\":[\"corp.example\",\"lab.example\"],\"nameservers\":[\"10.0.0.2\",\"10.0.0.3\"]},"
	    "\"os\":{\"id\":\"debian\",\"version_id\":\"12\",\"name\":\"Debian GNU/Linux\","
	    "\"pretty_name\":\"Debian GNU/Linux 12 (bookworm)\"},"
	    "\"kernel\":{\"name\":\"Linux\",\"release\":\"6.1.0\"},\"arch\":\"x86_64\","
	    "\"cpu\":{\"count\":2,\"model\":\"Test CPU @ 2.0GHz\"},\"memory_mb\":8192,"
	    "\"disks\":[{\"name\":\"sda\",\"size_mb\":1024,\"model\":\"VIRTUAL DISK\"}],"
	    "\"nics\":[{\"name\":\"eth0\",\"mac\":\"52:54:00:00:00:01\",\"ipv4\":[\"192.168.7.5/24\"]},"
	    "{\"name\":\"eth1\",\"mac\":\"52:54:00:00:00:02\",\"ipv4\":[\"10.0.0.11/24\"],\"ipv6\":[\"fe80::1/64\"],"
	    "\"default_route\":true}],\"ip\":\"10.0.0.11\",\"mac\":\"52:54:00:00:00:02\","
	    "\"dmi\":{\"vendor\":\"Acme\",\"model\":\"Rack 9000\",\"serial\":\"SN-42\"},"
	    "\"boot_time\":\"2023-11-14T22:13:20Z\",\"agent_version\":\"0.9.0\"}");
	free(doc);
}
END_TEST

START_TEST(test_facts_of_an_empty_root_are_absent_not_invented)
{
	struct facts_input in = {.root = root};
	char *doc = facts_build(&in);
	ck_assert_str_eq(doc, "{}");
	free(doc);
	/* a host name alone: no FQDN, no domain is made up */
	in.nodename = "lonely";
	doc = facts_build(&in);
	ck_assert_str_eq(doc, "{\"hostname\":\"lonely\"}");
	free(doc);
}
END_TEST

START_TEST(test_facts_hash_changes_with_the_facts_only)
{
	host_tree();
	struct facts_input in = {.root = root, .nodename = "web-01"};
	char *a = facts_build(&in), *b = facts_build(&in), ha[72], hb[72];
	ck_assert_int_eq(facts_hash(a, ha), 0);
	ck_assert_int_eq(facts_hash(b, hb), 0);
	ck_assert_str_eq(ha, hb);
	ck_assert_int_eq(strncmp(ha, "sha256:", 7), 0);
	ck_assert_uint_eq(strlen(ha), 71);
	put("/sys/class/dmi/id/product_name", "Rack 9001\n");
	char *c = facts_build(&in), hc[72];
	ck_assert_int_eq(facts_hash(c, hc), 0);
	ck_assert_str_ne(ha, hc);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_facts_hostile_values_stay_json)
{
	put("/etc/os-release", "ID=\"x\\\"y\"\nNAME=\"\x01\xff\"\n");
	put("/sys/class/dmi/id/product_name", "a\"b\\c\n");
	struct facts_input in = {.root = root};
	char *doc = facts_build(&in), err[200];
	ck_assert_int_eq(json_check_object(doc, strlen(doc), 16, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(doc, "\"id\":\"x\\\"y\""));
	ck_assert_ptr_nonnull(strstr(doc, "\"model\":\"a\\\"b\\\\c\""));
	free(doc);
}
END_TEST

Suite *
facts_suite(void)
{
	Suite *s = suite_create("facts");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_facts_from_a_fake_root_are_read_as_the_host_gives_them);
	tcase_add_test(tc, test_facts_of_an_empty_root_are_absent_not_invented);
	tcase_add_test(tc, test_facts_hash_changes_with_the_facts_only);
	tcase_add_test(tc, test_facts_hostile_values_stay_json);
	suite_add_tcase(s, tc);
	return s;
}
