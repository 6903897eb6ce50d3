/*
 * pool: worker supervision for the scheduler parent. Each slot has a pid, a
 * socketpair end wrapped in a bufferevent, and the events it holds; when a
 * worker dies its events go to its successor, so nothing claimed is dropped.
 */
#include "scheduler/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"

struct slot {
	struct pool *pool;
	int index;
	pid_t pid;             /* 0 when not running */
	struct bufferevent *bev;
	struct ipc_event *held; /* events handed to this worker and not yet done */
	int nheld;
	time_t restarts[16];   /* start times, for the restart limit */
	int nrestarts;
	int given_up;
};

struct pool {
	struct event_base *base;
	struct slot *slots;
	int nslots;
	int capacity;
	int restarts_per_minute; /* starts allowed per window */
	long long window_ms;
	int shutting_down;
	struct pool_callbacks cb;
};

static int slot_spawn(struct slot *s);

struct pool *
pool_new(struct event_base *base, int nworkers, int capacity, int restarts_per_minute,
    long long window_ms, const struct pool_callbacks *cb)
{
	struct pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->slots = calloc((size_t)nworkers, sizeof(*p->slots));
	if (p->slots == NULL) {
		free(p);
		return NULL;
	}
	p->base = base;
	p->nslots = nworkers;
	p->capacity = capacity;
	p->restarts_per_minute = restarts_per_minute > 16 ? 16 : restarts_per_minute;
	p->window_ms = window_ms > 0 ? window_ms : 60000;
	p->cb = *cb;
	for (int i = 0; i < nworkers; i++) {
		p->slots[i].pool = p;
		p->slots[i].index = i;
		p->slots[i].held = calloc((size_t)capacity, sizeof(struct ipc_event));
		if (p->slots[i].held == NULL) {
			pool_free(p);
			return NULL;
		}
	}
	return p;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->nslots; i++) {
		if (p->slots[i].bev != NULL)
			bufferevent_free(p->slots[i].bev);
		free(p->slots[i].held);
	}
	free(p->slots);
	free(p);
}

static int
slot_find(const struct slot *s, int64_t event_id)
{
	for (int i = 0; i < s->nheld; i++)
		if (s->held[i].event_id == event_id)
			return i;
	return -1;
}

static void
slot_forget(struct slot *s, int64_t event_id)
{
	int i = slot_find(s, event_id);
	if (i == -1)
		return;
	s->held[i] = s->held[--s->nheld];
}

static void
slot_send(struct slot *s, uint32_t type, const void *payload, size_t len)
{
	if (s->bev == NULL)
		return;
	if (ipc_compose(bufferevent_get_output(s->bev), type, payload, len) == -1)
		fatalx("pool: cannot compose message type %u", type);
}

static void
slot_read(struct bufferevent *bev, void *arg)
{
	struct slot *s = arg;
	struct pool *p = s->pool;
	struct ipc_msg msg;
	char err[128];
	int r;
	while ((r = ipc_take(bufferevent_get_input(bev), &msg, err, sizeof(err))) == 1) {
		struct ipc_done done;
		struct ipc_event_ref ref;
		switch (msg.type) {
		case IPC_DONE:
			if (ipc_get(&msg, &done, sizeof(done)) == -1)
				fatalx("pool: worker %d sent a malformed done message", s->index);
			slot_forget(s, done.event_id);
			if (p->cb.on_done != NULL)
				p->cb.on_done(&done, p->cb.arg);
			break;
		case IPC_RELEASED:
			if (ipc_get(&msg, &ref, sizeof(ref)) == -1)
				fatalx("pool: worker %d sent a malformed release message", s->index);
			slot_forget(s, ref.event_id);
			if (p->cb.on_released != NULL)
				p->cb.on_released(ref.event_id, p->cb.arg);
			break;
		case IPC_READY:
			log_debug("worker %d ready", s->index);
			break;
		default:
			/* a bad message from our own process is a bug */
			fatalx("pool: worker %d sent unexpected message type %u", s->index, msg.type);
		}
	}
	if (r == -1)
		fatalx("pool: worker %d: %s", s->index, err);
}

static void
slot_event(struct bufferevent *bev, short what, void *arg)
{
	struct slot *s = arg;
	(void)what;
	/* the worker closed its end: it is exiting; pool_reap handles the rest */
	bufferevent_free(bev);
	s->bev = NULL;
}

static int
slot_spawn(struct slot *s)
{
	struct pool *p = s->pool;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("worker %d: socketpair", s->index);
		return -1;
	}
	pid_t pid = fork();
	if (pid == -1) {
		log_warn("worker %d: fork", s->index);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* keep only our end of the pair and the log; the parent's database
		 * socket and other workers' pairs must not live on in this child */
		int logfd = log_fileno();
		int fd = sv[1];
		for (int i = 3; i < 65536; i++)
			if (i != fd && i != logfd)
				close(i);
		fcntl(fd, F_SETFD, 0);
		/* the parent's libevent signal handlers point at its closed pipe */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		/* a worker never outlives its parent */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(1);
		p->cb.worker_main(s->index, fd, p->cb.arg);
		_exit(1);
	}
	close(sv[1]);
	evutil_make_socket_nonblocking(sv[0]);
	s->bev = bufferevent_socket_new(p->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL)
		fatalx("worker %d: bufferevent_socket_new failed", s->index);
	bufferevent_setcb(s->bev, slot_read, NULL, slot_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->pid = pid;
	time_t now = time(NULL);
	if (s->nrestarts == (int)(sizeof(s->restarts) / sizeof(s->restarts[0])))
		memmove(s->restarts, s->restarts + 1, sizeof(s->restarts) - sizeof(s->restarts[0]));
	else
		s->nrestarts++;
	s->restarts[s->nrestarts - 1] = now;
	log_info("worker %d started, pid %ld", s->index, (long)pid);
	/* events the previous worker of this slot held go to the new one */
	for (int i = 0; i < s->nheld; i++)
		slot_send(s, IPC_EVENT, &s->held[i], sizeof(s->held[i]));
	return 0;
}

int
pool_start(struct pool *p)
{
	int started = 0;
	for (int i = 0; i < p->nslots; i++)
		if (slot_spawn(&p->slots[i]) == 0)
			started++;
	return started > 0 ? 0 : -1;
}

int
pool_live(const struct pool *p)
{
	int n = 0;
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid != 0)
			n++;
	return n;
}

int
pool_free_capacity(const struct pool *p)
{
	int n = 0;
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid != 0 && p->slots[i].bev != NULL)
			n += p->capacity - p->slots[i].nheld;
	return n;
}

int
pool_inflight(const struct pool *p)
{
	int n = 0;
	for (int i = 0; i < p->nslots; i++)
		n += p->slots[i].nheld;
	return n;
}

int
pool_dispatch(struct pool *p, const struct ipc_event *ev)
{
	struct slot *best = NULL;
	for (int i = 0; i < p->nslots; i++) {
		struct slot *s = &p->slots[i];
		if (s->pid == 0 || s->bev == NULL || s->nheld >= p->capacity)
			continue;
		if (best == NULL || s->nheld < best->nheld)
			best = s;
	}
	if (best == NULL)
		return -1;
	best->held[best->nheld++] = *ev;
	slot_send(best, IPC_EVENT, ev, sizeof(*ev));
	return 0;
}

int
pool_holds(const struct pool *p, int64_t event_id)
{
	for (int i = 0; i < p->nslots; i++)
		if (slot_find(&p->slots[i], event_id) != -1)
			return 1;
	return 0;
}

int
pool_cancel(struct pool *p, int64_t event_id)
{
	for (int i = 0; i < p->nslots; i++) {
		if (slot_find(&p->slots[i], event_id) != -1) {
			struct ipc_event_ref ref = {event_id};
			slot_send(&p->slots[i], IPC_CANCEL, &ref, sizeof(ref));
			return 0;
		}
	}
	return -1;
}

int
pool_held_events(const struct pool *p, int64_t *ids, int max)
{
	int n = 0;
	for (int i = 0; i < p->nslots; i++)
		for (int j = 0; j < p->slots[i].nheld && n < max; j++)
			ids[n++] = p->slots[i].held[j].event_id;
	return n;
}

void
pool_broadcast(struct pool *p, uint32_t type)
{
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid != 0)
			slot_send(&p->slots[i], type, NULL, 0);
}

static int
slot_may_restart(const struct slot *s)
{
	time_t now = time(NULL);
	int recent = 0;
	for (int i = 0; i < s->nrestarts; i++)
		if ((now - s->restarts[i]) * 1000 < s->pool->window_ms)
			recent++;
	return recent < s->pool->restarts_per_minute;
}

void
pool_reap(struct pool *p)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct slot *s = NULL;
		for (int i = 0; i < p->nslots; i++)
			if (p->slots[i].pid == pid)
				s = &p->slots[i];
		if (s == NULL)
			continue;
		if (WIFSIGNALED(status))
			log_msg(p->shutting_down ? LOG_NOTICE : LOG_WARNING,
			    "worker %d (pid %ld) killed by signal %d", s->index, (long)pid, WTERMSIG(status));
		else
			log_msg(p->shutting_down && WEXITSTATUS(status) == 0 ? LOG_NOTICE : LOG_WARNING,
			    "worker %d (pid %ld) exited with code %d", s->index, (long)pid,
			    WEXITSTATUS(status));
		s->pid = 0;
		if (s->bev != NULL) {
			bufferevent_free(s->bev);
			s->bev = NULL;
		}
		if (p->shutting_down || s->given_up)
			continue;
		if (!slot_may_restart(s)) {
			log_msg(LOG_ERROR, "worker %d: started %d times within %lld s, giving up",
			    s->index, p->restarts_per_minute, p->window_ms / 1000);
			s->given_up = 1;
			if (p->cb.on_give_up != NULL)
				p->cb.on_give_up(s->index, p->cb.arg);
			continue;
		}
		slot_spawn(s);
	}
}

void
pool_shutdown(struct pool *p, int stop_now)
{
	p->shutting_down = 1;
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid != 0)
			kill(p->slots[i].pid, stop_now ? SIGKILL : SIGTERM);
}
