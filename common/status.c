/* status: the table behind status.h. */
#include "common/status.h"

#include <stddef.h>

static const struct status_info table[] = {
	{STATUS_DELIVERED, "DELIVERED", "file delivered to the agent"},
	{STATUS_STARTED, "STARTED", "script started on the agent"},
	{STATUS_UNREACHABLE, "AGENT_UNREACHABLE", "agent could not be reached after every retry"},
	{STATUS_TLS_REFUSED, "TLS_REFUSED", "TLS handshake or certificate verification failed"},
	{STATUS_TRANSFER_FAILED, "TRANSFER_FAILED", "file transfer failed: key, size, checksum or I/O"},
	{STATUS_TIMEOUT, "TIMED_OUT", "script ran past its timeout; its process group was killed"},
	{STATUS_KILLED, "KILLED_BY_SIGNAL", "script was killed by a signal"},
	{STATUS_REQUIREMENTS, "REQUIREMENTS_NOT_MET", "OS-Required or Boot-Env did not match; nothing ran"},
	{STATUS_RUNAS_REFUSED, "RUN_AS_REFUSED", "run-as user is not allowed on this agent; nothing ran"},
	{STATUS_CANCELLED, "CANCELLED", "cancelled by an operator"},
	{STATUS_RENDER_FAILED, "RENDER_FAILED", "token replacement failed; nothing was sent"},
	{STATUS_LEASE_LOST, "LEASE_LOST", "the event's lease expired max_attempts times"},
	{STATUS_PROTOCOL, "PROTOCOL_ERROR", "malformed or unexpected protocol message"},
	{STATUS_AGENT_ERROR, "AGENT_ERROR", "agent could not run the script: fork, exec or disk failure"},
	{STATUS_FILE_REFUSED, "FILE_REFUSED", "file name or size refused by the agent; nothing ran"},
	{STATUS_ROLLOUT_HALTED, "ROLLOUT_HALTED", "schedule reached max_failures; this event was not run"},
	{STATUS_IDLE_TIMEOUT, "IDLE_TIMEOUT", "agent sent nothing for longer than the idle timeout"},
	{STATUS_MESSAGE_NOT_BUILT, "MESSAGE_NOT_BUILT",
	    "the task's message to the agent could not be built (a value too long or with a control character); nothing was sent"},
	{STATUS_MESSAGE_TIMEOUT, "MESSAGE_TIMEOUT",
	    "a reply of the agent did not arrive whole within timeouts.message of its first byte"},
	{STATUS_OFFLINE_EXPIRED, "OFFLINE_EXPIRED",
	    "the computer was not connected to any scheduler within events.offline_expire of the event's due time"},
	{STATUS_AGENT_DISCONNECTED, "AGENT_DISCONNECTED",
	    "the agent's connection was lost with a task in flight in the last of max_attempts attempts"},
	{STATUS_CERT_REVOKED, "CERT_REVOKED",
	    "the computer or its certificate is revoked: its events fail, its connections and renewals are refused"},
	{STATUS_ENROL_TOKEN_REFUSED, "ENROL_TOKEN_REFUSED",
	    "enrolment refused: the token is unknown, used up, expired or revoked"},
	{STATUS_ENROL_PENDING, "ENROL_PENDING", "enrolment waits for an operator: pgfleet computer accept"},
	{STATUS_ENROL_REFUSED, "ENROL_REFUSED",
	    "enrolment or renewal refused: rejected by an operator, or the computer is unknown"},
	{STATUS_WINDOW_CLOSED, "WINDOW_CLOSED",
	    "the maintenance window closed (or a blackout began) before the event's next task could start, and the job's allow_defer allows no more deferral"},
	{STATUS_DEFERRED, "DEFERRED",
	    "the maintenance window closed before the event's next task could start: the rest of the event waits for the next window (allow_defer)"},
	{STATUS_ROLLOUT_ABORTED, "ROLLOUT_ABORTED",
	    "the rollout was aborted by an operator (pgfleet abort) before this event started"},
	{STATUS_COPY_REFUSED, "COPY_REFUSED",
	    "the copy-file destination is outside the agent's copy.allow (or its owner is unknown); nothing was written"},
	{STATUS_COPY_FAILED, "COPY_FAILED",
	    "the copy-file task could not write its destination (disk, permissions); nothing was replaced"},
	{STATUS_WAKE_SENT, "WAKE_SENT",
	    "a note: wake-on-LAN was sent for the computer, connected nowhere, through an agent on its subnet; the event still waits"},
	{STATUS_WAKE_NO_RELAY, "WAKE_NO_RELAY",
	    "a note: no agent connected on the computer's subnet could send it wake-on-LAN; the event still waits"},
};

const struct status_info *
status_table(int *n)
{
	*n = (int)(sizeof(table) / sizeof(table[0]));
	return table;
}

const char *
status_name(int code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == code)
			return table[i].name;
	return NULL;
}
