/*
 * sendfile: the SendFile message as a table of keys and values, each value
 * checked before the message is built and each add checked while it is: a key
 * left out would let the agent apply a default the task never asked for.
 */
#include "worker/sendfile.h"

#include <inttypes.h>
#include <stdio.h>

#include "common/field.h"
#include "common/wire.h"

#define SENDFILE_DEFAULT_INTERPRETER "/bin/sh"

static const char *
or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* The keys only some tasks have: Retry (a retry), Destination and Mode (CopyFile). */
static int
sendfile_extras(const struct sendfile_req *r, struct wire_msg *m, char *err, size_t errlen)
{
	char why[256];
	if (r->retry > 0 && wire_addf(m, why, sizeof(why), "Retry", "%d", r->retry) == -1) {
		snprintf(err, errlen, "Retry: %s", why);
		return -1;
	}
	if (r->copy_dest != NULL && (wire_add(m, "Destination", r->copy_dest, why, sizeof(why)) == -1 ||
		wire_addf(m, why, sizeof(why), "Mode", "%04o", (unsigned)r->copy_mode) == -1)) {
		snprintf(err, errlen, "copy: %s", why);
		return -1;
	}
	if (r->copy_dest != NULL && r->copy_owner != NULL && r->copy_owner[0] != '\0') {
		/* a user name as Run-As is: checked the same way before it is sent */
		if (field_check_as(FIELD_RUN_AS, "owner", r->copy_owner, why, sizeof(why)) == -1 ||
		    wire_add(m, "Owner", r->copy_owner, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "copy: %s", why);
			return -1;
		}
	}
	return 0;
}

int
sendfile_build(const struct sendfile_req *r, struct wire_msg **out, char *err, size_t errlen)
{
	const char *interp = r->interpreter != NULL ? r->interpreter : SENDFILE_DEFAULT_INTERPRETER;
	*out = NULL;
	if (field_check(FIELD_INTERPRETER, interp, err, errlen) == -1 ||
	    field_check(FIELD_OS_REQUIRED, or_empty(r->os_required), err, errlen) == -1 ||
	    field_check(FIELD_BOOT_ENV, or_empty(r->boot_env), err, errlen) == -1 ||
	    (r->run_as != NULL && r->run_as[0] != '\0' &&
		field_check(FIELD_RUN_AS, r->run_as, err, errlen) == -1))
		return -1;
	if (r->key == NULL || r->checksum == NULL || r->transfer_host == NULL) {
		snprintf(err, errlen, "transfer key, checksum or host is missing");
		return -1;
	}
	char now[24], size[24], port[16], timeout[24], sched[24], event[24], seq[16], attempt[16],
	    id[24];
	snprintf(now, sizeof(now), "%lld", r->now);
	snprintf(size, sizeof(size), "%zu", r->size);
	snprintf(port, sizeof(port), "%d", r->port);
	snprintf(timeout, sizeof(timeout), "%lld", r->timeout_ms);
	snprintf(sched, sizeof(sched), "%" PRId64, r->schedule_id);
	snprintf(event, sizeof(event), "%" PRId64, r->event_id);
	snprintf(seq, sizeof(seq), "%d", r->seq);
	snprintf(attempt, sizeof(attempt), "%d", r->attempt);
	snprintf(id, sizeof(id), "%" PRId64, r->computer_id);
	const char *const kv[][2] = {
		{"Request", "SendFile"},
		{"Filename", "temp:rxscript.sh"},
		{"Date", now},
		{"Attributes", "32"},
		{"Size", size},
		{"Port", port},
		{"Transfer-Host", r->transfer_host},
		{"Key", r->key},
		{"Checksum", r->checksum},
		{"Execute", "temp:\"rxscript.sh\""},
		{"Task-Type", r->copy_dest != NULL ? "CopyFile" : "RunScript"},
		{"Interpreter", interp},
		{"OS-Required", or_empty(r->os_required)},
		{"Boot-Env", or_empty(r->boot_env)},
		{"Allow-Defer", "5"},
		{"Options", ""},
		{"Window", "0"},
		{"Run-As", or_empty(r->run_as)},
		{"Timeout", timeout},
		{"Schedule-ID", sched},
		{"Event-ID", event},
		{"Task-Sequence-ID", seq},
		{"Attempt", attempt},
		{"CurrentFileCount", "1"},
		{"TotalFileCount", "1"},
		{"TotalFileCopySize", size},
		{"ID", id},
		{"FileStamp", now},
	};
	struct wire_msg *m = wire_msg_new();
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		char why[256];
		if (wire_add(m, kv[i][0], kv[i][1], why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", kv[i][0], why);
			wire_msg_free(m);
			return -1;
		}
	}
	if (sendfile_extras(r, m, err, errlen) == -1) {
		wire_msg_free(m);
		return -1;
	}
	*out = m;
	return 0;
}
