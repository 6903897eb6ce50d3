/*
 * pgfleet-test-cdp PORT EXPRESSION: evaluate a JavaScript expression in the page of a
 * headless Chromium started with --remote-debugging-port, through the DevTools protocol
 * (one WebSocket message, Runtime.evaluate), and print its value. For t_web_chromium.sh,
 * which drives pgfleet-web's pages in a real browser. Exit 0 with the value (strings
 * unquoted, anything else as JSON), 1 when the browser cannot be reached or the
 * expression threw. Only 127.0.0.1; small and strict: one page, one message, 5 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_MS 5000
#define MAX_REPLY (4 * 1024 * 1024)

static int
dial(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read up to n bytes (at least one) within the deadline; 0 at EOF, -1 on error. */
static ssize_t
recv_some(int fd, void *p, size_t n)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	int r = poll(&pfd, 1, TIMEOUT_MS);
	if (r <= 0)
		return -1;
	return read(fd, p, n);
}

static int
recv_all(int fd, unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = recv_some(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* GET path; the whole answer (headers and body) into buf, NUL-terminated. */
static int
http_get(int port, const char *path, char *buf, size_t size)
{
	char req[512];
	size_t len = 0;
	int fd = dial(port);
	if (fd == -1)
		return -1;
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
	    path, port);
	if (send_all(fd, req, strlen(req)) == -1) {
		close(fd);
		return -1;
	}
	/* DevTools keeps the connection open: read up to the end its Content-Length gives */
	for (;;) {
		ssize_t r = recv_some(fd, buf + len, size - 1 - len);
		if (r <= 0) {
			close(fd);
			return -1;
		}
		len += (size_t)r;
		buf[len] = '\0';
		const char *end = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "Content-Length:");
		if (end != NULL && cl != NULL && cl < end &&
		    len >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10))
			break;
		if (len >= size - 1) {
			close(fd);
			return -1;
		}
	}
	buf[len] = '\0';
	close(fd);
	return 0;
}

/* A JSON string of s into out (quotes included). */
static void
json_str(const char *s, char *out, size_t size)
{
	size_t n = 0;
	out[n++] = '"';
	for (; *s && n + 8 < size; s++) {
		if (*s == '"' || *s == '\\') {
			out[n++] = '\\';
			out[n++] = *s;
		} else if ((unsigned char)*s < 0x20)
			n += (size_t)snprintf(out + n, size - n, "\\u%04x", *s);
		else
			out[n++] = *s;
	}
	out[n++] = '"';
	out[n] = '\0';
}

/* One masked text frame (the client must mask; the mask may be anything). */
static int
ws_send(int fd, const char *text)
{
	size_t n = strlen(text), h = 0;
	unsigned char head[14];
	const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
	head[h++] = 0x81;
	if (n < 126)
		head[h++] = (unsigned char)(0x80 | n);
	else if (n < 65536) {
		head[h++] = 0x80 | 126;
		head[h++] = (unsigned char)(n >> 8);
		head[h++] = (unsigned char)n;
	} else {
		head[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			head[h++] = (unsigned char)((unsigned long long)n >> (8 * i));
	}
	memcpy(head + h, mask, 4);
	h += 4;
	unsigned char *body = malloc(n + 1);
	if (body == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		body[i] = (unsigned char)text[i] ^ mask[i % 4];
	int rc = send_all(fd, head, h) == 0 && send_all(fd, body, n) == 0 ? 0 : -1;
	free(body);
	return rc;
}

/* The next text message (unmasked, possibly in fragments), malloc'd; NULL on error. */
static char *
ws_recv(int fd)
{
	char *msg = NULL;
	size_t len = 0;
	for (;;) {
		unsigned char h[2], ext[8];
		if (recv_all(fd, h, 2) == -1)
			break;
		unsigned long long n = h[1] & 0x7F;
		if (n == 126 || n == 127) {
			size_t k = n == 126 ? 2 : 8;
			if (recv_all(fd, ext, k) == -1)
				break;
			n = 0;
			for (size_t i = 0; i < k; i++)
				n = (n << 8) | ext[i];
		}
		if ((h[1] & 0x80) || n > MAX_REPLY || len + n > MAX_REPLY)
			break; /* a server never masks; and no reply of ours is that large */
		char *m = realloc(msg, len + n + 1);
		if (m == NULL)
			break;
		msg = m;
		if (recv_all(fd, (unsigned char *)msg + len, (size_t)n) == -1)
			break;
		len += n;
		msg[len] = '\0';
		if ((h[0] & 0x0F) == 0x9 || (h[0] & 0x0F) == 0xA) { /* ping, pong: skip */
			len -= n;
			continue;
		}
		if (h[0] & 0x80)
			return msg;
	}
	free(msg);
	return NULL;
}

/* Print the JSON string starting at p (after its opening quote), unescaped. */
static void
print_json_string(const char *p)
{
	for (; *p && *p != '"'; p++) {
		if (*p != '\\') {
			putchar(*p);
			continue;
		}
		switch (*++p) {
		case 'n': putchar('\n'); break;
		case 't': putchar('\t'); break;
		case 'r': putchar('\r'); break;
		case 'u': {
			unsigned v = 0;
			if (sscanf(p + 1, "%4x", &v) == 1 && v < 0x80)
				putchar((int)v);
			p += 4;
			break;
		}
		case '\0': return;
		default: putchar(*p);
		}
	}
}

int
main(int argc, char **argv)
{
	static char list[256 * 1024];
	char path[512], req[64 * 1024], expr[60 * 1024];
	if (argc != 3) {
		fprintf(stderr, "usage: pgfleet-test-cdp PORT EXPRESSION\n");
		return 2;
	}
	int port = atoi(argv[1]);
	if (http_get(port, "/json/list", list, sizeof(list)) == -1) {
		fprintf(stderr, "cdp: no DevTools on 127.0.0.1:%d\n", port);
		return 1;
	}
	/* the first page's "webSocketDebuggerUrl": "ws://127.0.0.1:PORT/devtools/page/ID" */
	const char *page = strstr(list, "\"type\": \"page\"");
	const char *url = page != NULL ? strstr(page, "\"webSocketDebuggerUrl\"") : NULL;
	const char *ws = url != NULL ? strstr(url, "/devtools/page/") : NULL;
	size_t n = 0;
	while (ws != NULL && ws[n] != '"' && ws[n] != '\0' && n < sizeof(path) - 1)
		n++;
	if (ws == NULL || ws[n] != '"') {
		fprintf(stderr, "cdp: no page in %s\n", list);
		return 1;
	}
	memcpy(path, ws, n);
	path[n] = '\0';
	int fd = dial(port);
	if (fd == -1)
		return 1;
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
				   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				   "Sec-WebSocket-Version: 13\r\n\r\n", path, port);
	char head[4096];
	size_t hl = 0;
	if (send_all(fd, req, strlen(req)) == -1)
		return 1;
	/* the 101 answer, byte by byte so that nothing of the first frame is read with it */
	while (hl < sizeof(head) - 1 && (hl < 4 || memcmp(head + hl - 4, "\r\n\r\n", 4) != 0)) {
		if (recv_some(fd, head + hl, 1) != 1)
			return 1;
		hl++;
	}
	head[hl] = '\0';
	if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "cdp: %s\n", head);
		return 1;
	}
	json_str(argv[2], expr, sizeof(expr));
	snprintf(req, sizeof(req), "{\"id\":1,\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":%s,"
				   "\"returnByValue\":true,\"awaitPromise\":true}}", expr);
	if (ws_send(fd, req) == -1)
		return 1;
	for (;;) {
		char *m = ws_recv(fd);
		if (m == NULL)
			return 1;
		if (strncmp(m, "{\"id\":1,", 8) != 0) {
			free(m);
			continue;
		}
		int rc = 0;
		const char *v;
		if (strstr(m, "\"exceptionDetails\"") != NULL) {
			fprintf(stderr, "cdp: %s\n", m);
			rc = 1;
		} else if ((v = strstr(m, "\"value\":\"")) != NULL) {
			print_json_string(v + 9);
			putchar('\n');
		} else if ((v = strstr(m, "\"value\":")) != NULL) {
			const char *e = v + 8;
			while (*e && *e != '}' && *e != ',')
				e++;
			printf("%.*s\n", (int)(e - v - 8), v + 8);
		} else
			printf("undefined\n");
		free(m);
		close(fd);
		return rc;
	}
}
