#!/bin/sh
# Copy-file tasks beyond one text file (docs/yaml.md "Copy-file tasks"): a file of any bytes
# (NUL, invalid UTF-8) is stored as bytes (task.copy_content), reaches the agent byte for byte,
# submits again as no new version and round-trips through `pgfleet job export`; a checksum:
# that the source does not match is refused at submit. A folder becomes one task per file; owner:
# gives the files away. `pgfleet run --copy` makes the same tasks ad hoc (a file, a folder), the
# same copy again reusing its version, bad input refused with exit 2 before anything is written.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
mkdir -p "$TESTDIR/agent-1/etc"
# pgfleet-ghost: allowed, but no such user on this host
agent_start agent-1 "copy: {allow: [$TESTDIR/agent-1/etc]}" \
	"run_as: {allow: [root, nobody, pgfleet-ghost], default: root, allow_root: true}"
sched_start sched-a
agent_connected agent-1
cd "$TESTDIR"
sid() { sql "select s.schedule_id from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = '$1' order by s.schedule_id desc limit 1"; }

# every byte value 0-255, then the same 256 times over: 65792 bytes, NULs and invalid UTF-8
i=0
while [ $i -lt 256 ]; do printf "\\$(printf %03o $i)"; i=$((i + 1)); done > all.bin
for k in 1 2 3 4 5 6 7 8; do cat all.bin all.bin all.bin all.bin; done > b32
cat all.bin b32 b32 b32 b32 b32 b32 b32 b32 > app.bin
assert_eq "$(wc -c < app.bin)" 65792 "test file size"
cat > bin.yaml <<YAML
jobs:
  - name: deploy/bin
    tasks:
      - copy: {source: app.bin, destination: $TESTDIR/agent-1/etc/app.bin, mode: "0600"}
    targets: {computers: [agent-1]}
YAML
"$P" submit bin.yaml > out 2>&1 || fail "submit: $(cat out)"
wait_schedule "$(sid deploy/bin)" 60
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $(sid deploy/bin)")" done "binary copy event"
cmp app.bin "$TESTDIR/agent-1/etc/app.bin" || fail "the copied file differs"
assert_eq "$(stat -c %a "$TESTDIR/agent-1/etc/app.bin")" 600 "file mode"
assert_eq "$(sql "select (script is null) || ' ' || octet_length(copy_content) || ' ' || encode(sha256(copy_content), 'hex')
	from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'deploy/bin'")" \
	"true 65792 $(sha256sum < app.bin | cut -d' ' -f1)" "stored as bytes, script NULL"
assert_eq "$(sql "select script_bytes from pgfleet.task_list where job = 'deploy/bin'")" 65792 "task_list counts the bytes"
ok "a file with NUL bytes and invalid UTF-8 is stored as bytes and copied byte for byte"

"$P" submit bin.yaml > out 2>&1 || fail "submit again: $(cat out)"
assert_eq "$(sql "select version from pgfleet.job where name = 'deploy/bin'")" 1 "same file, same version"
"$P" job export deploy/bin > export.yaml || fail "export"
grep -q '^ *content_base64: |' export.yaml || fail "export without content_base64: $(head -c 600 export.yaml)"
"$P" submit export.yaml > out 2>&1 || fail "submit the export: $(cat out)"
assert_eq "$(sql "select version from pgfleet.job where name = 'deploy/bin'")" 1 "the export is the same version"
# one byte changed: a new version, copied again
printf 'X' | dd of=app.bin bs=1 seek=1000 conv=notrunc 2>/dev/null
"$P" submit bin.yaml > out 2>&1 || fail "submit changed: $(cat out)"
assert_eq "$(sql "select version from pgfleet.job where name = 'deploy/bin'")" 2 "a changed byte is a new version"
wait_schedule "$(sid deploy/bin)" 60
cmp app.bin "$TESTDIR/agent-1/etc/app.bin" || fail "the new version was not copied"
ok "the same bytes submit as no new version, the export submits as the same version, a changed byte copies again"

# checksum: the source read at submit must have it, else the batch is refused at its place
sum=$(sha256sum < app.bin | cut -d' ' -f1)
cat > sum.yaml <<YAML
jobs:
  - name: deploy/sum
    tasks:
      - copy: {source: app.bin, destination: $TESTDIR/agent-1/etc/sum.bin, checksum: "sha256:$sum"}
    targets: {computers: [agent-1]}
YAML
"$P" submit sum.yaml > out 2>&1 || fail "submit with its checksum: $(cat out)"
wait_schedule "$(sid deploy/sum)" 60
cmp app.bin "$TESTDIR/agent-1/etc/sum.bin" || fail "the checked file differs"
printf 'Y' | dd of=app.bin bs=1 seek=7 conv=notrunc 2>/dev/null
col=$(($(sed -n 4p sum.yaml | sed 's/checksum:.*//' | wc -c) + 10))
if "$P" submit sum.yaml > out 2>&1; then fail "a changed file was accepted under its old checksum"; fi
grep -qx "sum.yaml:4:$col: checksum: the content's is sha256:$(sha256sum < app.bin | cut -d' ' -f1), not sha256:$sum" out \
	|| fail "checksum refusal: $(cat out)"
assert_eq "$(sql "select version from pgfleet.job where name = 'deploy/sum'")" 1 "nothing written"
ok "checksum: a source with its sha256 is copied; a changed source is refused at submit with file:line:col"

# a folder: one copy task per file, sorted by path; missing folders made on the agent inside
# copy.allow (0755), never through a link; a link in the source folder refused at submit
mkdir -p conf.d/sub/deep
printf 'a = 1\n' > conf.d/a.conf
printf 'b = 2\n' > conf.d/sub/b.conf
cp all.bin conf.d/sub/deep/c.bin
: > conf.d/sub/.keep
mkdir -p "$TESTDIR/outside"
ln -s "$TESTDIR/outside" "$TESTDIR/agent-1/etc/escape"
cat > tree.yaml <<YAML
jobs:
  - name: deploy/tree
    tasks:
      - copy: {source: conf.d/, destination: $TESTDIR/agent-1/etc/app/conf.d, mode: "0640"}
      - script: find $TESTDIR/agent-1/etc/app -type f | sort
    targets: {computers: [agent-1]}
  - name: deploy/escape-tree
    tasks:
      - copy: {source: conf.d/, destination: $TESTDIR/agent-1/etc/escape/conf.d}
    targets: {computers: [agent-1]}
YAML
"$P" submit tree.yaml > out 2>&1 || fail "submit the folder: $(cat out)"
assert_eq "$(sql "select string_agg(seq || ' ' || type || ' ' || coalesce(copy_dest, '-'), ',' order by seq)
	from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'deploy/tree'")" \
	"0 copy_file $TESTDIR/agent-1/etc/app/conf.d/a.conf,1 copy_file $TESTDIR/agent-1/etc/app/conf.d/sub/.keep,2 copy_file $TESTDIR/agent-1/etc/app/conf.d/sub/b.conf,3 copy_file $TESTDIR/agent-1/etc/app/conf.d/sub/deep/c.bin,4 run_script -" \
	"one task per file, in order"
wait_schedule "$(sid deploy/tree)" 60
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $(sid deploy/tree)")" done "folder copy event"
for f in a.conf sub/.keep sub/b.conf sub/deep/c.bin; do
	cmp "conf.d/$f" "$TESTDIR/agent-1/etc/app/conf.d/$f" || fail "$f differs"
	assert_eq "$(stat -c %a "$TESTDIR/agent-1/etc/app/conf.d/$f")" 640 "$f mode"
done
for d in app app/conf.d app/conf.d/sub app/conf.d/sub/deep; do
	assert_eq "$(stat -c '%a %U' "$TESTDIR/agent-1/etc/$d")" "755 root" "folder $d made"
done
e=$(sql "select event_id from pgfleet.event where schedule_id = $(sid deploy/tree)")
assert_eq "$("$P" output "$e" --seq 4 | wc -l)" 4 "the next task sees the four files"
wait_schedule "$(sid deploy/escape-tree)" 60
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $(sid deploy/escape-tree)")" "failed -37" "no folder made through a link"
[ -z "$(ls -A "$TESTDIR/outside")" ] || fail "made outside copy.allow: $(ls -A "$TESTDIR/outside")"
ok "a folder of 3 files in 2 levels (and an empty hidden one) is copied file by file with its mode, its folders made inside copy.allow only"

ln -s /etc/passwd conf.d/sub/link
col=$(($(sed -n 4p tree.yaml | sed 's/source:.*//' | wc -c) + 8))
if "$P" submit tree.yaml > out 2>&1; then fail "a folder with a link was accepted"; fi
grep -qx "tree.yaml:4:$col: source \"conf.d/\": sub/link is a symbolic link (links in a copied folder are not followed)" out \
	|| fail "link refusal: $(cat out)"
rm conf.d/sub/link
ok "a symbolic link in a copied folder is refused at submit with file:line:col"

# owner: the file (and the folders made for it) go to that user, not to the run-as user; a
# user not on run_as.allow, or unknown on the agent, is refused with -36
cat > owner.yaml <<YAML
jobs:
  - name: deploy/owner
    tasks:
      - copy: {content: "owned\\n", destination: $TESTDIR/agent-1/etc/own/x.conf, owner: nobody, mode: "0600"}
    targets: {computers: [agent-1]}
  - name: deploy/owner-refused
    tasks:
      - copy: {content: "x", destination: $TESTDIR/agent-1/etc/refused.conf, owner: daemon}
    targets: {computers: [agent-1]}
  - name: deploy/owner-ghost
    tasks:
      - copy: {content: "x", destination: $TESTDIR/agent-1/etc/ghost.conf, owner: pgfleet-ghost}
    targets: {computers: [agent-1]}
YAML
"$P" submit owner.yaml > out 2>&1 || fail "submit owners: $(cat out)"
for j in deploy/owner deploy/owner-refused deploy/owner-ghost; do wait_schedule "$(sid $j)" 60; done
assert_eq "$(sql "select coalesce(run_as, '-') || ' ' || copy_owner from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'deploy/owner'")" "- nobody" "task row"
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $(sid deploy/owner)")" done "owner copy"
assert_eq "$(stat -c '%U %a' "$TESTDIR/agent-1/etc/own/x.conf")" "nobody 600" "the file is the owner's"
assert_eq "$(stat -c '%U %a' "$TESTDIR/agent-1/etc/own")" "nobody 755" "so is the folder made for it"
assert_eq "$(cat "$TESTDIR/agent-1/etc/own/x.conf")" owned "content"
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $(sid deploy/owner-refused)")" "failed -36" "owner not allowed"
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $(sid deploy/owner-ghost)")" "failed -36" "owner unknown"
grep -q 'copy owner "daemon" refused: not allowed on this agent (run_as.allow)' "$TESTDIR/agent-1.log" || fail "refusal of daemon logged"
grep -q 'copy owner "pgfleet-ghost" refused: no such user' "$TESTDIR/agent-1.log" || fail "refusal of the unknown user logged"
[ -e "$TESTDIR/agent-1/etc/refused.conf" ] || [ -e "$TESTDIR/agent-1/etc/ghost.conf" ] && fail "a refused copy was written"
"$P" submit owner.yaml > out 2>&1 || fail "submit owners again: $(cat out)"
assert_eq "$(sql "select version from pgfleet.job where name = 'deploy/owner'")" 1 "same owner, same version"
# job show says what a copy task does where a script's interpreter would be
"$P" job show deploy/owner > out 2>&1 || fail "job show: $(cat out)"
grep -q "copy to $TESTDIR/agent-1/etc/own/x.conf (mode 0600, owner nobody)" out || fail "job show: $(cat out)"
ok "owner: gives the file and its folders to that user; one not allowed or unknown on the agent fails -36"

# the schema: exactly one of script and copy_content; bytes only for copy_file
refused() { # refused CONSTRAINT SQL
	rc=0; psql -X -v ON_ERROR_STOP=1 -qAt -c "$2" 2> err || rc=$?
	[ "$rc" != 0 ] || fail "accepted: $2"
	grep -q "violates check constraint \"$1\"" err || fail "$2: $(cat err)"
}
task="insert into pgfleet.task (job_id, version, seq, type, copy_dest, copy_mode, script, copy_content) select job_id, 9, 0"
refused task_script_or_content "$task, 'copy_file', '/x/y', 420, 'text', '\\x00'::bytea from pgfleet.job where name = 'deploy/bin'"
refused task_script_or_content "$task, 'copy_file', '/x/y', 420, null, null from pgfleet.job where name = 'deploy/bin'"
refused task_content_copy "$task, 'run_script', null, null, null, '\\x00'::bytea from pgfleet.job where name = 'deploy/bin'"
refused task_copy_content "$task, 'copy_file', '/x/y', 420, null, ''::bytea from pgfleet.job where name = 'deploy/bin'"
own="insert into pgfleet.task (job_id, version, seq, type, copy_dest, copy_mode, script, copy_owner) select job_id, 9, 0"
refused task_copy_owner "$own, 'run_script', null, null, 'x', 'nobody' from pgfleet.job where name = 'deploy/bin'"
refused task_copy_owner "$own, 'copy_file', '/x/y', 420, 'x', E'no\\nbody' from pgfleet.job where name = 'deploy/bin'"
refused task_copy_owner "$own, 'copy_file', '/x/y', 420, 'x', repeat('u', 33) from pgfleet.job where name = 'deploy/bin'"
out=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "select * from pgfleet.submit('{\"jobs\": [{\"name\": \"j\", \"tasks\": [{\"type\": \"copy_file\", \"copy_dest\": \"/x\", \"copy_mode\": 420, \"copy_content\": \"!!\"}]}]}')" 2>&1) \
	&& fail "bad base64 accepted: $out"
echo "$out" | grep -q "task 0: copy_content is not base64" || fail "bad base64: $out"
ok "the schema keeps script and copy_content exclusive, bytes for copy_file only, base64 and copy_owner checked"

# pgfleet run --copy: the same copy-file tasks ad hoc, read and checked as a batch's copy:
# a file of any bytes, then a folder (one task per file), each a version of the job that the
# same copy again reuses
ver() { sql "select version from pgfleet.job where name = '$1'"; }
s=$(timeout 120 "$P" run --copy app.bin --dest "$TESTDIR/agent-1/etc/adhoc/app.bin" --mode 0600 --owner nobody \
	--name ops/copy --on agent-1 --wait 2> err) || fail "run --copy a file: $(cat err)"
grep -q "^pgfleet run: schedule [0-9]*: job ops/copy version 1, 1 event(s), due now" err || fail "run line: $(cat err)"
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $(echo "$s" | head -n 1)")" done "ad-hoc file copy"
cmp app.bin "$TESTDIR/agent-1/etc/adhoc/app.bin" || fail "the file copied by run --copy differs"
assert_eq "$(stat -c '%U %a' "$TESTDIR/agent-1/etc/adhoc/app.bin")" "nobody 600" "owner and mode"
assert_eq "$(sql "select type || ' ' || (script is null) || ' ' || octet_length(copy_content) || ' ' || copy_mode || ' ' || copy_owner
	from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'ops/copy'")" "copy_file true 65792 384 nobody" "the task row"
sum=$(sha256sum < app.bin | cut -d' ' -f1)
timeout 120 "$P" run --copy app.bin --dest "$TESTDIR/agent-1/etc/adhoc/app.bin" --mode 0600 --owner nobody \
	--checksum "sha256:$sum" --name ops/copy --on agent-1 --wait > /dev/null 2> err || fail "again: $(cat err)"
assert_eq "$(ver ops/copy)" 1 "the same copy (with its checksum) reuses the version"
assert_eq "$(sql "select count(*) from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/copy' and s.job_version = 1")" 2 "two runs of version 1"
ok "run --copy FILE --dest --mode --owner --wait: copied byte for byte; the same copy again reuses its version"

who=$(sql "select session_user")
s=$(timeout 120 "$P" run --copy conf.d/ --dest "$TESTDIR/agent-1/etc/adhoc/conf.d" --mode 0640 --on agent-1 --wait 2> err) \
	|| fail "run --copy a folder: $(cat err)"
grep -q "^pgfleet run: schedule [0-9]*: job adhoc/$who version 1, 1 event(s)" err || fail "run line: $(cat err)"
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $(echo "$s" | head -n 1)")" done "ad-hoc folder copy"
assert_eq "$(sql "select string_agg(seq || ' ' || copy_dest, ',' order by seq) from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'adhoc/$who'")" \
	"0 $TESTDIR/agent-1/etc/adhoc/conf.d/a.conf,1 $TESTDIR/agent-1/etc/adhoc/conf.d/sub/.keep,2 $TESTDIR/agent-1/etc/adhoc/conf.d/sub/b.conf,3 $TESTDIR/agent-1/etc/adhoc/conf.d/sub/deep/c.bin" \
	"one task per file, in order"
for f in a.conf sub/.keep sub/b.conf sub/deep/c.bin; do
	cmp "conf.d/$f" "$TESTDIR/agent-1/etc/adhoc/conf.d/$f" || fail "$f differs"
	assert_eq "$(stat -c %a "$TESTDIR/agent-1/etc/adhoc/conf.d/$f")" 640 "$f mode"
done
timeout 120 "$P" run --copy conf.d --dest "$TESTDIR/agent-1/etc/adhoc/conf.d" --mode 640 --on agent-1 --wait > /dev/null 2> err \
	|| fail "the folder again: $(cat err)"
assert_eq "$(ver "adhoc/$who")" 1 "the same folder again reuses the version"
printf 'a = 3\n' > conf.d/a.conf
timeout 120 "$P" run --copy conf.d --dest "$TESTDIR/agent-1/etc/adhoc/conf.d" --mode 0640 --on agent-1 --wait > /dev/null 2> err \
	|| fail "a changed folder: $(cat err)"
assert_eq "$(ver "adhoc/$who")" 2 "a changed file is the next version"
cmp conf.d/a.conf "$TESTDIR/agent-1/etc/adhoc/conf.d/a.conf" || fail "the changed file was not copied"
ok "run --copy FOLDER: one copy task per file, each with its content and mode; the same folder reuses the version"

# refused with exit 2 before anything is written
before=$(sql "select (select count(*) from pgfleet.schedule) || ' ' || (select count(*) from pgfleet.task) || ' ' || (select count(*) from pgfleet.job)")
bad() { # bad MESSAGE ARGS...
	want=$1; shift
	rc=0; "$P" run "$@" > /dev/null 2> err || rc=$?
	assert_eq "$rc" 2 "exit code of run $*"
	grep -qF -- "$want" err || fail "run $*: expected '$want', got: $(cat err)"
}
d=$TESTDIR/agent-1/etc/refused
bad '--copy needs --dest PATH' --copy app.bin --on agent-1 --name ops/refused
bad '--copy excludes --script, --script-file and --interpreter' --copy app.bin --dest "$d" --script true --on agent-1 --name ops/refused
bad '--copy excludes --script, --script-file and --interpreter' --copy app.bin --dest "$d" --interpreter /bin/bash --on agent-1 --name ops/refused
bad '--dest: "etc/refused" is not an absolute file path' --copy app.bin --dest etc/refused --on agent-1 --name ops/refused
bad "--checksum: the content's is sha256:$sum, not sha256:$(echo "$sum" | tr 0-9a-f 1-9a-f0)" \
	--copy app.bin --dest "$d" --checksum "sha256:$(echo "$sum" | tr 0-9a-f 1-9a-f0)" --on agent-1 --name ops/refused
bad '--checksum: "sha256:abc" is not sha256: and 64 hex digits' --copy app.bin --dest "$d" --checksum sha256:abc --on agent-1 --name ops/refused
bad '--checksum: goes with one file; source "conf.d" is a folder' --copy conf.d --dest "$d" --checksum "sha256:$sum" --on agent-1 --name ops/refused
bad '--mode: "0999" is not an octal mode' --copy app.bin --dest "$d" --mode 0999 --on agent-1 --name ops/refused
bad '--copy "none.bin": cannot read none.bin' --copy none.bin --dest "$d" --on agent-1 --name ops/refused
bad '--dest, --mode, --owner and --checksum go with --copy' --script true --dest "$d" --on agent-1 --name ops/refused
bad 'a job or an ad-hoc --copy, not both' ops/copy --copy app.bin --dest "$d" --on agent-1
ln -s /etc/passwd conf.d/sub/link
bad '--copy "conf.d": sub/link is a symbolic link' --copy conf.d --dest "$d" --on agent-1 --name ops/refused
rm conf.d/sub/link
bad 'no such computer: agent-9' --copy app.bin --dest "$d" --on agent-9 --name ops/refused
assert_eq "$(sql "select (select count(*) from pgfleet.schedule) || ' ' || (select count(*) from pgfleet.task) || ' ' || (select count(*) from pgfleet.job)")" "$before" "nothing written"
[ ! -e "$d" ] || fail "a refused copy reached the agent"
ok "run --copy refused (no --dest, with --script or --interpreter, a relative --dest, a bad checksum or mode, a link, an unknown computer): exit 2, nothing written"
