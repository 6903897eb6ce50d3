-- 0006_checks: the values that reach the control protocol (docs/security.md) are
-- checked by the database too, with the limits of common/field.h: no control
-- character (bytes 0x01-0x1f and 0x7f; NUL cannot be stored in text), at most
-- 32 bytes for run_as, 1024 for interpreter (whose first word is an absolute
-- path), 128 for os_required, os and boot_env, 253 for host and name. A task
-- whose message still could not be built fails with the new code -16.

INSERT INTO pgfleet.status_code (code, name, meaning) VALUES
	(-16, 'MESSAGE_NOT_BUILT', 'the task''s message to the agent could not be built (a value too long or with a control character); nothing was sent');

-- '' meant "none" in these columns, as NULL does: one spelling from now on
UPDATE pgfleet.task SET run_as = NULL WHERE run_as = '';
UPDATE pgfleet.task SET os_required = NULL WHERE os_required = '';
UPDATE pgfleet.task SET boot_env = NULL WHERE boot_env = '';

ALTER TABLE pgfleet.task
	ADD CONSTRAINT task_run_as_wire CHECK (run_as !~ '[\x01-\x1f\x7f]'
		AND octet_length(run_as) BETWEEN 1 AND 32),
	ADD CONSTRAINT task_interpreter_wire CHECK (interpreter !~ '[\x01-\x1f\x7f]'
		AND octet_length(interpreter) BETWEEN 1 AND 1024 AND interpreter ~ '^ */'),
	ADD CONSTRAINT task_os_required_wire CHECK (os_required !~ '[\x01-\x1f\x7f]'
		AND octet_length(os_required) <= 128),
	ADD CONSTRAINT task_boot_env_wire CHECK (boot_env !~ '[\x01-\x1f\x7f]'
		AND octet_length(boot_env) <= 128);

ALTER TABLE pgfleet.computer
	ADD CONSTRAINT computer_name_wire CHECK (name !~ '[\x01-\x1f\x7f]' AND octet_length(name) <= 253),
	ADD CONSTRAINT computer_host_wire CHECK (host !~ '[\x01-\x1f\x7f]' AND octet_length(host) <= 253),
	ADD CONSTRAINT computer_os_wire CHECK (os !~ '[\x01-\x1f\x7f]' AND octet_length(os) <= 128),
	ADD CONSTRAINT computer_boot_env_wire CHECK (boot_env !~ '[\x01-\x1f\x7f]'
		AND octet_length(boot_env) <= 128);
