/* Unit tests for common/sdnotify: the datagram systemd reads, the watchdog interval. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/sdnotify.h"

/* A datagram socket at path (abstract when it starts with '@'); its descriptor. */
static int
listener(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	else
		unlink(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
	return fd;
}

static void
expect_msg(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

START_TEST(test_sdnotify_sends_to_notify_socket_and_hides_it)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/pgfleet-sdnotify-%ld", (long)getpid());
	int fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "30000000", 1);
	unsetenv("WATCHDOG_PID");
	sdnotify_init();
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
	ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
	ck_assert_int_eq(sdnotify_watchdog_ms(), 30000);
	sdnotify("READY=1\nSTATUS=%d workers", 4);
	expect_msg(fd, "READY=1\nSTATUS=4 workers");
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(test_sdnotify_abstract_socket)
{
	char path[64];
	snprintf(path, sizeof(path), "@pgfleet-sdnotify-%ld", (long)getpid());
	int fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	sdnotify_init();
	sdnotify("WATCHDOG=1");
	expect_msg(fd, "WATCHDOG=1");
	close(fd);
}
END_TEST

START_TEST(test_sdnotify_watchdog_of_another_pid_is_not_ours)
{
	setenv("NOTIFY_SOCKET", "/tmp/nowhere", 1);
	setenv("WATCHDOG_USEC", "1000000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	sdnotify_init();
	ck_assert_int_eq(sdnotify_watchdog_ms(), 0);
	unsetenv("WATCHDOG_PID");
}
END_TEST

START_TEST(test_sdnotify_outside_systemd_is_a_no_op)
{
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "1000000", 1);
	sdnotify_init();
	ck_assert_int_eq(sdnotify_watchdog_ms(), 0);
	sdnotify("READY=1");
}
END_TEST

Suite *
sdnotify_suite(void)
{
	Suite *s = suite_create("sdnotify");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_sdnotify_sends_to_notify_socket_and_hides_it);
	tcase_add_test(tc, test_sdnotify_abstract_socket);
	tcase_add_test(tc, test_sdnotify_watchdog_of_another_pid_is_not_ours);
	tcase_add_test(tc, test_sdnotify_outside_systemd_is_a_no_op);
	suite_add_tcase(s, tc);
	return s;
}
