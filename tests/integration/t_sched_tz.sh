#!/bin/sh
# Time zones: PostgreSQL's offsets for Europe/Berlin over 2026 (pgfleet.tz_offsets), the
# next runs of a cron expression around both 2026 EU daylight saving changes (pgfleet next,
# as of injected instants), a submitted cron schedule in a zone first due at the right
# instant (PGFLEET_NOW), at: with a zone, unknown zones refused at FILE:LINE:COL and by the
# CHECK constraint, and the scheduler copying the zone into each next occurrence.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init

# PostgreSQL's offsets: CET, CEST from 2026-03-29 01:00 UTC, CET from 2026-10-25 01:00 UTC
got=$(sql "select to_char(at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') || ' ' || utc_offset
           from pgfleet.tz_offsets('Europe/Berlin', '2026-01-01 00:00Z', '2027-01-01 00:00Z')" | tr '\n' ';')
assert_eq "$got" "2026-01-01 00:00 3600;2026-03-29 01:00 7200;2026-10-25 01:00 3600;" "Berlin offsets"
ok "pgfleet.tz_offsets finds both 2026 changes of Europe/Berlin to the minute"

# spring forward: 02:30 does not exist on 2026-03-29; it runs once, at the change (03:00 CEST)
"$P" next "30 2 * * *" --timezone Europe/Berlin --after 2026-03-28T12:00:00Z --count 3 > "$TESTDIR/spring" || fail "next (spring)"
cat > "$TESTDIR/want" <<'OUT'
2026-03-29T01:00:00Z  2026-03-29T03:00:00+02:00
2026-03-30T00:30:00Z  2026-03-30T02:30:00+02:00
2026-03-31T00:30:00Z  2026-03-31T02:30:00+02:00
OUT
diff -u "$TESTDIR/want" "$TESTDIR/spring" || fail "spring forward runs"
# fall back: 02:30 comes twice on 2026-10-25; it runs at the first (CEST) only
"$P" next "30 2 * * *" --timezone Europe/Berlin --after 2026-10-24T12:00:00Z --count 2 > "$TESTDIR/fall" || fail "next (fall)"
printf '2026-10-25T00:30:00Z  2026-10-25T02:30:00+02:00\n2026-10-26T01:30:00Z  2026-10-26T02:30:00+01:00\n' > "$TESTDIR/want"
diff -u "$TESTDIR/want" "$TESTDIR/fall" || fail "fall back runs"
# a wildcard job follows the wall clock through the repeated hour
"$P" next "*/30 * * * *" --timezone Europe/Berlin --after 2026-10-25T00:10:00Z --count 4 | cut -c1-20 | tr '\n' ' ' > "$TESTDIR/wild"
assert_eq "$(cat "$TESTDIR/wild")" "2026-10-25T00:30:00Z 2026-10-25T01:00:00Z 2026-10-25T01:30:00Z 2026-10-25T02:00:00Z " "wildcard through the repeated hour"
# PGFLEET_NOW is the default --after
assert_eq "$(PGFLEET_NOW=2026-07-01T00:00:00Z "$P" next "0 9 * * mon-fri" --timezone America/New_York --count 1)" \
	"2026-07-01T13:00:00Z  2026-07-01T09:00:00-04:00" "PGFLEET_NOW and a western zone"
rc=0; "$P" next "0 9 * * *" --timezone Mars/Olympus_Mons > /dev/null 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 2 "unknown zone exit code"
grep -qF 'pgfleet next: time zone "Mars/Olympus_Mons" is not one PostgreSQL knows' "$TESTDIR/err" || fail "unknown zone: $(cat "$TESTDIR/err")"
ok "pgfleet next: a skipped 02:30 runs once at the change, a repeated one once, wildcards follow the clock"

# submit, as if it were 2026-03-28 12:00 UTC
cd "$TESTDIR"
cat > tz.yaml <<'YAML'
computers: [{name: berlin-01, host: 127.0.0.1}]
jobs:
  - name: tz/nightly
    tasks: [{script: "echo nightly"}]
    targets: {computers: [berlin-01]}
    schedule: {cron: "30 2 * * *", timezone: Europe/Berlin}
  - name: tz/once
    tasks: [{script: "echo once"}]
    targets: {computers: [berlin-01]}
    schedule: {at: "2026-10-25T02:30:00[Europe/Berlin]"}
  - name: tz/offset
    tasks: [{script: "echo offset"}]
    targets: {computers: [berlin-01]}
    schedule: {at: "2026-10-25T02:30:00+01:00"}
YAML
PGFLEET_NOW=2026-03-28T12:00:00Z "$P" submit tz.yaml > out 2>&1 || fail "submit: $(cat out)"
grep -qF 'job tz/nightly: schedule ' out && grep -q 'job tz/nightly: schedule .* due 2026-03-29T01:00:00Z' out || fail "nightly first due: $(cat out)"
grep -q 'job tz/once: schedule .* due 2026-10-25T00:30:00Z' out || fail "once due: $(cat out)"
grep -q 'job tz/offset: schedule .* due 2026-10-25T01:30:00Z' out || fail "offset due: $(cat out)"
assert_eq "$(sql "select s.timezone || ' ' || s.repeat_cron from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'tz/nightly'")" \
	"Europe/Berlin 30 2 * * *" "schedule row"
# the same file again changes nothing; export -> submit changes nothing
PGFLEET_NOW=2026-03-28T12:00:00Z "$P" submit tz.yaml > out2 2>&1 || fail "submit again"
assert_eq "$(sql "select count(*) from pgfleet.schedule")" 3 "second submit created nothing"
"$P" job export tz/nightly > nightly.yaml || fail "export"
grep -q 'timezone: Europe/Berlin' nightly.yaml || fail "export keeps the zone: $(cat nightly.yaml)"
"$P" submit nightly.yaml > out3 2>&1 || fail "submit export: $(cat out3)"
assert_eq "$(sql "select count(*) from pgfleet.schedule")" 3 "export submitted back created nothing"
ok "submit: a Berlin 02:30 cron first runs at 01:00 UTC on the spring change; at: with a zone; twice and export change nothing"

# an unknown zone: refused at its place, nothing written
cat > bad.yaml <<'YAML'
jobs:
  - name: tz/bad
    tasks: [{script: "echo bad"}]
    targets: {computers: [berlin-01]}
    schedule: {cron: "0 2 * * *", timezone: Europe/Atlantis}
YAML
rc=0; "$P" submit bad.yaml > out 2> err || rc=$?
assert_eq "$rc" 2 "unknown zone exit code"
grep -qxF 'bad.yaml:5:45: job tz/bad: time zone "Europe/Atlantis" is not one PostgreSQL knows (pg_timezone_names; examples: Europe/Berlin, America/New_York, UTC)' err || fail "unknown zone: $(cat err)"
assert_eq "$(sql "select count(*) from pgfleet.job where name = 'tz/bad'")" 0 "nothing written"
rc=0; sql "update pgfleet.schedule set timezone = 'EST5EDT,M3.2.0,M11.1.0'" > /dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the CHECK constraint let a POSIX rule through"
rc=0; sql "update pgfleet.schedule set timezone = 'Europe/Atlantis'" > /dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the CHECK constraint let an unknown zone through"
ok "an unknown zone is refused at FILE:LINE:COL and by schedule_timezone_known"

# the scheduler: a zone with a 45-minute offset, every minute; the next occurrence keeps it
sql "delete from pgfleet.event" > /dev/null
sql "delete from pgfleet.schedule" > /dev/null
sched_conf sched-a
agent_start agent-1
job_add tick 'echo tick'
sid=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at, repeat_cron, timezone)
	select job_id, 1, '{\"computers\": [\"agent-1\"]}', now(), '* * * * *', 'Asia/Kathmandu'
	from pgfleet.job where name = 'tick' returning schedule_id")
sql "select pgfleet.expand_schedule($sid)" > /dev/null
sched_start sched-a
next_made() { [ "$(sql "select count(*) from pgfleet.schedule where parent_schedule_id = $sid")" = 1 ]; }
wait_for 60 "the next occurrence" next_made
assert_eq "$(sql "select timezone || ' ' || (extract(second from due_at) = 0) || ' ' || (due_at > (select due_at from pgfleet.schedule where schedule_id = $sid))
	from pgfleet.schedule where parent_schedule_id = $sid")" "Asia/Kathmandu true true" "next occurrence"
wait_schedule "$sid" 60
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" done "first occurrence ran"
ok "the scheduler creates each next occurrence in the schedule's zone and copies the zone"
