/*
 * facts: one small reader per source, each adding its keys only when the
 * source has them, in a fixed order so that the same host gives the same text
 * (and the same hash) every time.
 */
#include "agent/facts.h"

#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>

#include "common/json.h"
#include "common/util.h"

#define LINE_MAX_LEN 4096
#define MAX_DISKS 64

/* root + path into out; -1 when too long. */
static int
path_of(const char *root, const char *path, char *out, size_t size)
{
	const char *r = root != NULL && strcmp(root, "/") != 0 ? root : "";
	return (size_t)snprintf(out, size, "%s%s", r, path) < size ? 0 : -1;
}

/* The whole of a small file (at most size - 1 bytes); -1 when it cannot be read. */
static ssize_t
slurp(const char *root, const char *path, char *buf, size_t size)
{
	char full[4096];
	if (path_of(root, path, full, sizeof(full)) == -1)
		return -1;
	FILE *f = fopen(full, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, size - 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return -1;
	buf[n] = '\0';
	return (ssize_t)n;
}

static char *
trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* The first line of a file, trimmed, into buf; 0 when it is there and not empty. */
static int
first_line(const char *root, const char *path, char *buf, size_t size)
{
	if (slurp(root, path, buf, size) < 0)
		return -1;
	char *nl = strchr(buf, '\n');
	if (nl != NULL)
		*nl = '\0';
	char *t = trim(buf);
	memmove(buf, t, strlen(t) + 1);
	return buf[0] != '\0' ? 0 : -1;
}

/* ---- a JSON object being written ------------------------------------------ */

struct obj {
	struct util_buf *b;
	int n;
};

static void
key(struct obj *o, const char *k)
{
	util_buf_puts(o->b, o->n++ > 0 ? "," : "");
	json_quote(o->b, k);
	util_buf_puts(o->b, ":");
}

static void
kv_str(struct obj *o, const char *k, const char *v)
{
	if (v == NULL || v[0] == '\0')
		return;
	key(o, k);
	json_quote(o->b, v);
}

static void
kv_num(struct obj *o, const char *k, long long v)
{
	key(o, k);
	util_buf_fmt(o->b, "%lld", v);
}

/* ---- sources ----------------------------------------------------------------- */

/* os-release: KEY=value, KEY="value" or KEY='value'. */
static int
os_release_value(char *line, const char *want, char *out, size_t size)
{
	size_t k = strlen(want);
	if (strncmp(line, want, k) != 0 || line[k] != '=')
		return -1;
	char *v = trim(line + k + 1);
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		v++;
	}
	size_t j = 0;
	for (size_t i = 0; v[i] != '\0' && j + 1 < size; i++) {
		if (v[i] == '\\' && v[i + 1] != '\0')
			i++;
		out[j++] = v[i];
	}
	out[j] = '\0';
	return 0;
}

static void
add_os(struct obj *top, const char *root)
{
	static char buf[16384];
	if (slurp(root, "/etc/os-release", buf, sizeof(buf)) < 0 &&
	    slurp(root, "/usr/lib/os-release", buf, sizeof(buf)) < 0)
		return;
	static const char *const keys[][2] = {{"ID", "id"}, {"VERSION_ID", "version_id"},
	    {"NAME", "name"}, {"PRETTY_NAME", "pretty_name"}, {"VERSION_CODENAME", "codename"}};
	char vals[5][256] = {{0}};
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		for (size_t i = 0; i < 5; i++)
			if (vals[i][0] == '\0')
				(void)os_release_value(line, keys[i][0], vals[i], sizeof(vals[i]));
	int any = 0;
	for (size_t i = 0; i < 5; i++)
		any |= vals[i][0] != '\0';
	if (!any)
		return;
	key(top, "os");
	struct obj o = {top->b, 0};
	util_buf_puts(top->b, "{");
	for (size_t i = 0; i < 5; i++)
		kv_str(&o, keys[i][1], vals[i]);
	util_buf_puts(top->b, "}");
}

struct dns {
	char domain[256];
	char search[1024];     /* space-separated */
	char servers[8][64];
	int nservers;
};

static void
read_resolv(const char *root, struct dns *d)
{
	char buf[8192];
	memset(d, 0, sizeof(*d));
	if (slurp(root, "/etc/resolv.conf", buf, sizeof(buf)) < 0)
		return;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *l = trim(line), *v;
		if (strncmp(l, "domain", 6) == 0 && (l[6] == ' ' || l[6] == '\t')) {
			v = trim(l + 6);
			snprintf(d->domain, sizeof(d->domain), "%.*s", (int)strcspn(v, " \t#;"), v);
		} else if (strncmp(l, "search", 6) == 0 && (l[6] == ' ' || l[6] == '\t')) {
			v = trim(l + 6);
			snprintf(d->search, sizeof(d->search), "%.*s", (int)strcspn(v, "#;"), v);
			char *t = trim(d->search);
			memmove(d->search, t, strlen(t) + 1);
		} else if (strncmp(l, "nameserver", 10) == 0 && (l[10] == ' ' || l[10] == '\t') && d->nservers < 8) {
			v = trim(l + 10);
			snprintf(d->servers[d->nservers++], 64, "%.*s", (int)strcspn(v, " \t#;"), v);
		}
	}
}

/* The FQDN of nodename as /etc/hosts names it: a dotted name on a line that names nodename. */
static void
hosts_fqdn(const char *root, const char *nodename, char *out, size_t size)
{
	char buf[65536];
	out[0] = '\0';
	if (strchr(nodename, '.') != NULL) {
		snprintf(out, size, "%s", nodename);
		return;
	}
	if (slurp(root, "/etc/hosts", buf, sizeof(buf)) < 0)
		return;
	size_t nl = strlen(nodename);
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		char *names[32], *s2 = NULL;
		int n = 0;
		for (char *w = strtok_r(line, " \t", &s2); w != NULL && n < 32; w = strtok_r(NULL, " \t", &s2))
			names[n++] = w;
		int named = 0;
		for (int i = 1; i < n; i++)
			named |= strcmp(names[i], nodename) == 0;
		for (int i = 1; named && i < n; i++)
			if (strncmp(names[i], nodename, nl) == 0 && names[i][nl] == '.' && names[i][nl + 1] != '\0') {
				snprintf(out, size, "%s", names[i]);
				return;
			}
	}
}

static void
add_names(struct obj *top, const struct facts_input *in, const struct dns *d)
{
	char fqdn[256];
	if (in->nodename == NULL || in->nodename[0] == '\0')
		return;
	kv_str(top, "hostname", in->nodename);
	hosts_fqdn(in->root, in->nodename, fqdn, sizeof(fqdn));
	kv_str(top, "fqdn", fqdn);
	const char *dot = strchr(fqdn, '.');
	kv_str(top, "domain", dot != NULL ? dot + 1 : d->domain);
}

static void
add_dns(struct obj *top, const struct dns *d)
{
	if (d->search[0] == '\0' && d->nservers == 0 && d->domain[0] == '\0')
		return;
	key(top, "dns");
	util_buf_puts(top->b, "{");
	struct obj o = {top->b, 0};
	kv_str(&o, "domain", d->domain);
	char search[1024];
	snprintf(search, sizeof(search), "%s", d->search[0] != '\0' ? d->search : d->domain);
	if (search[0] != '\0') {
		key(&o, "search");
		util_buf_puts(top->b, "[");
		char *save = NULL;
		int k = 0;
		for (char *w = strtok_r(search, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
			util_buf_puts(top->b, k++ > 0 ? "," : "");
			json_quote(top->b, w);
		}
		util_buf_puts(top->b, "]");
	}
	if (d->nservers > 0) {
		key(&o, "nameservers");
		util_buf_puts(top->b, "[");
		for (int i = 0; i < d->nservers; i++) {
			util_buf_puts(top->b, i > 0 ? "," : "");
			json_quote(top->b, d->servers[i]);
		}
		util_buf_puts(top->b, "]");
	}
	util_buf_puts(top->b, "}");
}

static void
add_kernel(struct obj *top, const struct facts_input *in)
{
	if (in->sysname != NULL || in->release != NULL) {
		key(top, "kernel");
		util_buf_puts(top->b, "{");
		struct obj o = {top->b, 0};
		kv_str(&o, "name", in->sysname);
		kv_str(&o, "release", in->release);
		kv_str(&o, "version", in->version);
		util_buf_puts(top->b, "}");
	}
	kv_str(top, "arch", in->machine);
}

static void
add_cpu_memory(struct obj *top, const char *root)
{
	static char buf[1 << 20];
	long long count = 0;
	char model[256] = "";
	if (slurp(root, "/proc/cpuinfo", buf, sizeof(buf)) >= 0) {
		char *save = NULL;
		for (char *line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
			char *colon = strchr(line, ':');
			if (colon == NULL)
				continue;
			*colon = '\0';
			char *k = trim(line), *v = trim(colon + 1);
			if (strcmp(k, "processor") == 0)
				count++;
			else if (model[0] == '\0' && (strcmp(k, "model name") == 0 || strcmp(k, "cpu model") == 0 ||
				 strcmp(k, "Model") == 0))
				snprintf(model, sizeof(model), "%s", v);
		}
	}
	if (count > 0 || model[0] != '\0') {
		key(top, "cpu");
		util_buf_puts(top->b, "{");
		struct obj o = {top->b, 0};
		if (count > 0)
			kv_num(&o, "count", count);
		kv_str(&o, "model", model);
		util_buf_puts(top->b, "}");
	}
	if (slurp(root, "/proc/meminfo", buf, sizeof(buf)) >= 0) {
		char *p = strstr(buf, "MemTotal:");
		long long kb;
		if (p != NULL && sscanf(p + 9, "%lld", &kb) == 1 && kb > 0)
			kv_num(top, "memory_mb", kb / 1024);
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of root/dir, skipping "." and "..". Caller frees each and v. */
static int
list_dir(const char *root, const char *dir, char ***v)
{
	char full[4096];
	*v = NULL;
	if (path_of(root, dir, full, sizeof(full)) == -1)
		return 0;
	DIR *d = opendir(full);
	if (d == NULL)
		return 0;
	int n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 1024) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap > 0 ? cap * 2 : 16;
			char **nv = realloc(*v, (size_t)cap * sizeof(char *));
			if (nv == NULL)
				break;
			*v = nv;
		}
		if (((*v)[n] = strdup(e->d_name)) != NULL)
			n++;
	}
	closedir(d);
	if (n > 0)
		qsort(*v, (size_t)n, sizeof(char *), cmp_str);
	return n;
}

static void
free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
add_disks(struct obj *top, const char *root)
{
	char **names, path[512], buf[256];
	int n = list_dir(root, "/sys/block", &names), k = 0;
	for (int i = 0; i < n; i++) {
		const char *d = names[i];
		if (strncmp(d, "loop", 4) == 0 || strncmp(d, "ram", 3) == 0 || strncmp(d, "zram", 4) == 0 ||
		    strncmp(d, "fd", 2) == 0 || strncmp(d, "sr", 2) == 0 || k >= MAX_DISKS)
			continue;
		long long sectors;
		snprintf(path, sizeof(path), "/sys/block/%s/size", d);
		if (first_line(root, path, buf, sizeof(buf)) == -1 || sscanf(buf, "%lld", &sectors) != 1 ||
		    sectors <= 0)
			continue;
		if (k == 0) {
			key(top, "disks");
			util_buf_puts(top->b, "[");
		}
		util_buf_puts(top->b, k++ > 0 ? ",{" : "{");
		struct obj o = {top->b, 0};
		kv_str(&o, "name", d);
		kv_num(&o, "size_mb", sectors / 2048);
		snprintf(path, sizeof(path), "/sys/block/%s/device/model", d);
		if (first_line(root, path, buf, sizeof(buf)) == 0)
			kv_str(&o, "model", buf);
		snprintf(path, sizeof(path), "/sys/block/%s/removable", d);
		if (first_line(root, path, buf, sizeof(buf)) == 0 && strcmp(buf, "1") == 0) {
			key(&o, "removable");
			util_buf_puts(top->b, "true");
		}
		util_buf_puts(top->b, "}");
	}
	if (k > 0)
		util_buf_puts(top->b, "]");
	free_list(names, n);
}

/* The interfaces of the IPv4 and IPv6 default routes, "" when none. */
static void
default_routes(const char *root, char *v4, char *v6, size_t size)
{
	static char buf[65536];
	v4[0] = v6[0] = '\0';
	if (slurp(root, "/proc/net/route", buf, sizeof(buf)) >= 0) {
		char *save = NULL;
		for (char *line = strtok_r(buf, "\n", &save); line != NULL && v4[0] == '\0';
		    line = strtok_r(NULL, "\n", &save)) {
			char ifn[64], dst[16], mask[16];
			unsigned flags;
			if (sscanf(line, "%63s %15s %*s %x %*s %*s %*s %15s", ifn, dst, &flags, mask) == 4 &&
			    strcmp(dst, "00000000") == 0 && strcmp(mask, "00000000") == 0 && (flags & 1))
				snprintf(v4, size, "%s", ifn);
		}
	}
	if (slurp(root, "/proc/net/ipv6_route", buf, sizeof(buf)) >= 0) {
		char *save = NULL;
		for (char *line = strtok_r(buf, "\n", &save); line != NULL && v6[0] == '\0';
		    line = strtok_r(NULL, "\n", &save)) {
			char dst[40], plen[8], ifn[64];
			if (sscanf(line, "%39s %7s %*s %*s %*s %*s %*s %*s %*s %63s", dst, plen, ifn) == 3 &&
			    strcmp(dst, "00000000000000000000000000000000") == 0 && strcmp(plen, "00") == 0 &&
			    strcmp(ifn, "lo") != 0)
				snprintf(v6, size, "%s", ifn);
		}
	}
}

static void
add_addrs(struct util_buf *b, const struct facts_input *in, const char *nic, int family)
{
	int k = 0;
	for (size_t i = 0; i < in->naddrs; i++) {
		const struct facts_addr *a = &in->addrs[i];
		if (a->family != family || strcmp(a->nic, nic) != 0)
			continue;
		util_buf_puts(b, k++ > 0 ? "," : "[");
		char s[96];
		snprintf(s, sizeof(s), "%s/%d", a->addr, a->prefix);
		json_quote(b, s);
	}
	if (k > 0)
		util_buf_puts(b, "]");
}

static const char *
first_addr(const struct facts_input *in, const char *nic, int family)
{
	for (size_t i = 0; i < in->naddrs; i++)
		if (in->addrs[i].family == family && strcmp(in->addrs[i].nic, nic) == 0)
			return in->addrs[i].addr;
	return NULL;
}

static int
has_addrs(const struct facts_input *in, const char *nic, int family)
{
	return first_addr(in, nic, family) != NULL;
}

/* Interfaces: /sys/class/net and those getifaddrs names, sorted, lo left out. */
static int
nic_names(const struct facts_input *in, char ***out)
{
	char **v;
	int n = list_dir(in->root, "/sys/class/net", &v);
	for (size_t i = 0; i < in->naddrs; i++) {
		int seen = 0;
		for (int k = 0; k < n && !seen; k++)
			seen = strcmp(v[k], in->addrs[i].nic) == 0;
		if (seen || n >= FACTS_MAX_NICS)
			continue;
		char **nv = realloc(v, (size_t)(n + 1) * sizeof(char *));
		if (nv == NULL)
			break;
		v = nv;
		if ((v[n] = strdup(in->addrs[i].nic)) != NULL)
			n++;
	}
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i], "lo") == 0)
			free(v[i]);
		else
			v[k++] = v[i];
	}
	if (k > 0)
		qsort(v, (size_t)k, sizeof(char *), cmp_str);
	*out = v;
	return k;
}

static int
mac_ok(const char *m)
{
	return strlen(m) == 17 && strcmp(m, "00:00:00:00:00:00") != 0;
}

static void
add_nics(struct obj *top, const struct facts_input *in)
{
	char **names, v4[64], v6[64], path[512], mac[64];
	char primary_ip[64] = "", primary_mac[64] = "";
	default_routes(in->root, v4, v6, sizeof(v4));
	int n = nic_names(in, &names);
	for (int i = 0; i < n; i++) {
		const char *nic = names[i];
		if (i == 0) {
			key(top, "nics");
			util_buf_puts(top->b, "[");
		}
		util_buf_puts(top->b, i > 0 ? ",{" : "{");
		struct obj o = {top->b, 0};
		kv_str(&o, "name", nic);
		snprintf(path, sizeof(path), "/sys/class/net/%s/address", nic);
		if (first_line(in->root, path, mac, sizeof(mac)) == 0 && mac_ok(mac))
			kv_str(&o, "mac", mac);
		else
			mac[0] = '\0';
		if (has_addrs(in, nic, AF_INET)) {
			key(&o, "ipv4");
			add_addrs(top->b, in, nic, AF_INET);
		}
		if (has_addrs(in, nic, AF_INET6)) {
			key(&o, "ipv6");
			add_addrs(top->b, in, nic, AF_INET6);
		}
		if (strcmp(nic, v4) == 0 || strcmp(nic, v6) == 0) {
			key(&o, "default_route");
			util_buf_puts(top->b, "true");
		}
		util_buf_puts(top->b, "}");
		if (strcmp(nic, v4) == 0) {
			const char *a = first_addr(in, nic, AF_INET);
			snprintf(primary_ip, sizeof(primary_ip), "%s", a != NULL ? a : "");
			snprintf(primary_mac, sizeof(primary_mac), "%s", mac);
		}
	}
	if (n > 0)
		util_buf_puts(top->b, "]");
	free_list(names, n);
	kv_str(top, "ip", primary_ip);
	kv_str(top, "mac", primary_mac);
}

/* Values firmware writes where the maker filled nothing in: not facts. */
static int
dmi_placeholder(const char *v)
{
	static const char *const p[] = {"To Be Filled By O.E.M.", "To be filled by O.E.M.", "Default string",
	    "Not Specified", "Not Applicable", "None", "System Serial Number", "System Product Name",
	    "System manufacturer", "0123456789", "Chassis Serial Number", "Asset-1234567890"};
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		if (strcmp(v, p[i]) == 0)
			return 1;
	return 0;
}

static void
add_dmi(struct obj *top, const char *root)
{
	static const char *const files[][2] = {{"sys_vendor", "vendor"}, {"product_name", "model"},
	    {"product_version", "version"}, {"product_serial", "serial"}, {"chassis_asset_tag", "asset_tag"},
	    {"product_uuid", "uuid"}};
	char path[256], val[256];
	int k = 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "/sys/class/dmi/id/%s", files[i][0]);
		if (first_line(root, path, val, sizeof(val)) == -1 || dmi_placeholder(val))
			continue;
		if (k++ == 0) {
			key(top, "dmi");
			util_buf_puts(top->b, "{");
		}
		struct obj o = {top->b, k - 1};
		kv_str(&o, files[i][1], val);
	}
	if (k > 0)
		util_buf_puts(top->b, "}");
}

static void
add_boot_time(struct obj *top, const char *root)
{
	static char buf[1 << 16];
	if (slurp(root, "/proc/stat", buf, sizeof(buf)) < 0)
		return;
	char *p = strstr(buf, "\nbtime ");
	long long t;
	if (p == NULL || sscanf(p + 7, "%lld", &t) != 1 || t <= 0)
		return;
	time_t tt = (time_t)t;
	struct tm tm;
	char iso[32];
	if (gmtime_r(&tt, &tm) == NULL || strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return;
	kv_str(top, "boot_time", iso);
}

char *
facts_build(const struct facts_input *in)
{
	struct util_buf b = {0};
	struct obj top = {&b, 0};
	struct dns d;
	read_resolv(in->root, &d);
	util_buf_puts(&b, "{");
	add_names(&top, in, &d);
	add_dns(&top, &d);
	add_os(&top, in->root);
	add_kernel(&top, in);
	add_cpu_memory(&top, in->root);
	add_disks(&top, in->root);
	add_nics(&top, in);
	add_dmi(&top, in->root);
	add_boot_time(&top, in->root);
	kv_str(&top, "agent_version", in->agent_version);
	util_buf_puts(&b, "}");
	return util_buf_take(&b);
}

static int
prefix_len(const struct sockaddr *mask)
{
	const unsigned char *p;
	size_t n;
	if (mask == NULL)
		return 0;
	if (mask->sa_family == AF_INET) {
		p = (const unsigned char *)&((const struct sockaddr_in *)mask)->sin_addr;
		n = 4;
	} else {
		p = (const unsigned char *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
		n = 16;
	}
	int bits = 0;
	for (size_t i = 0; i < n; i++)
		for (int k = 7; k >= 0; k--)
			bits += (p[i] >> k) & 1;
	return bits;
}

char *
facts_gather(const char *agent_version)
{
	struct utsname u;
	int have_u = uname(&u) == 0;
	struct facts_addr *addrs = calloc(FACTS_MAX_ADDRS, sizeof(*addrs));
	size_t n = 0;
	struct ifaddrs *ifa = NULL;
	if (addrs != NULL && getifaddrs(&ifa) == 0) {
		for (struct ifaddrs *p = ifa; p != NULL && n < FACTS_MAX_ADDRS; p = p->ifa_next) {
			if (p->ifa_addr == NULL || (p->ifa_addr->sa_family != AF_INET &&
			    p->ifa_addr->sa_family != AF_INET6) || strcmp(p->ifa_name, "lo") == 0)
				continue;
			struct facts_addr *a = &addrs[n];
			socklen_t len = p->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
			    sizeof(struct sockaddr_in6);
			if (getnameinfo(p->ifa_addr, len, a->addr, sizeof(a->addr), NULL, 0, NI_NUMERICHOST) != 0)
				continue;
			/* a link-local address carries its zone (%eth0): the NIC says that already */
			a->addr[strcspn(a->addr, "%")] = '\0';
			snprintf(a->nic, sizeof(a->nic), "%s", p->ifa_name);
			a->family = p->ifa_addr->sa_family;
			a->prefix = prefix_len(p->ifa_netmask);
			n++;
		}
		freeifaddrs(ifa);
	}
	/* tests read the files of a tree of their own (a fake DMI, say); uname and addresses stay real */
	const char *root = getenv("PGFLEET_FACTS_ROOT");
	struct facts_input in = {.root = root != NULL && root[0] == '/' ? root : "/", .addrs = addrs, .naddrs = n, .agent_version = agent_version};
	if (have_u) {
		in.nodename = u.nodename;
		in.sysname = u.sysname;
		in.release = u.release;
		in.version = u.version;
		in.machine = u.machine;
	}
	char *doc = facts_build(&in);
	free(addrs);
	return doc;
}

int
facts_hash(const char *doc, char out[72])
{
	char hex[65];
	if (util_sha256_hex(doc, strlen(doc), hex) == -1)
		return -1;
	snprintf(out, 72, "sha256:%s", hex);
	return 0;
}
