/*
 * status: pgfleet's status codes, the one table the code uses; the
 * status_code table of migrations/ holds the same rows (a test compares them).
 * 0..255 are the script's exit code; 2500/2501 are progress; negatives are ours.
 */
#ifndef PGFLEET_STATUS_H
#define PGFLEET_STATUS_H

enum status_code {
	STATUS_DELIVERED = 2500,        /* file delivered to the agent */
	STATUS_STARTED = 2501,          /* script started */
	STATUS_UNREACHABLE = -1,        /* agent unreachable after retries (before agents connected out) */
	STATUS_TLS_REFUSED = -2,        /* TLS handshake or certificate check failed */
	STATUS_TRANSFER_FAILED = -3,    /* file transfer failed (size, checksum, key, I/O) */
	STATUS_TIMEOUT = -4,            /* script ran past its timeout and was killed */
	STATUS_KILLED = -5,             /* script killed by a signal */
	STATUS_REQUIREMENTS = -6,       /* OS-Required or Boot-Env not met; nothing ran */
	STATUS_RUNAS_REFUSED = -7,      /* run-as user not allowed on this agent */
	STATUS_CANCELLED = -8,          /* cancelled by an operator */
	STATUS_RENDER_FAILED = -9,      /* token rendering failed */
	STATUS_LEASE_LOST = -10,        /* lease lost max_attempts times */
	STATUS_PROTOCOL = -11,          /* malformed or unexpected protocol message */
	STATUS_AGENT_ERROR = -12,       /* agent could not run the script (fork, exec, disk) */
	STATUS_FILE_REFUSED = -13,      /* file name or size refused by the agent */
	STATUS_ROLLOUT_HALTED = -14,    /* schedule's max_failures reached; event not run */
	STATUS_IDLE_TIMEOUT = -15,      /* agent went silent past the idle timeout */
	STATUS_MESSAGE_NOT_BUILT = -16, /* the task's SendFile could not be built; nothing was sent */
	STATUS_MESSAGE_TIMEOUT = -23,   /* an agent's reply did not arrive whole within timeouts.message */
	STATUS_OFFLINE_EXPIRED = -24,   /* not connected anywhere within events.offline_expire of due_at */
	STATUS_AGENT_DISCONNECTED = -25, /* connection lost with a task in flight, last attempt */
	STATUS_CERT_REVOKED = -26,      /* the computer or its certificate is revoked */
	STATUS_ENROL_TOKEN_REFUSED = -27, /* enrolment: token unknown, used up, expired or revoked */
	STATUS_ENROL_PENDING = -28,     /* enrolment waits for pgfleet computer accept */
	STATUS_ENROL_REFUSED = -29,     /* enrolment or renewal refused (rejected, unknown computer) */
	STATUS_WINDOW_CLOSED = -31,     /* window closed before the next task, no deferral left */
	STATUS_DEFERRED = -32,          /* window closed before the next task: deferred to the next one */
	STATUS_ROLLOUT_ABORTED = -33,   /* the rollout was aborted (pgfleet abort) before the event ran */
	STATUS_COPY_REFUSED = -36,      /* copy-file destination outside the agent's copy.allow */
	STATUS_COPY_FAILED = -37,       /* copy-file destination could not be written */
	STATUS_WAKE_SENT = -38,         /* a note: wake-on-LAN sent through a relay; still waiting */
	STATUS_WAKE_NO_RELAY = -39,     /* a note: no relay on the computer's subnet; still waiting */
};

struct status_info {
	int code;
	const char *name;    /* UPPER_SNAKE, as in the status_code table */
	const char *meaning; /* one sentence for DBAs */
};

/* Every code pgfleet itself assigns (not the 0..255 exit codes); n set to the count. */
const struct status_info *status_table(int *n);
/* Name of a code: "EXIT_<n>" for 0..255 is not stored; returns NULL for unknown. */
const char *status_name(int code);

#endif
