#!/usr/bin/env bash
# tests/campaign/run.sh: campaigns (docs/campaigns.md) as a user runs them:
# `bluetas run --shard/--results/--junit/--swarm`, `bluetas report`, and the
# real engines: a Slurm job array on a single-node cluster started here
# (ci/slurm-local.sh, under $BLUETAS_NETNS_LOCK when that is set:
# tests/support/netns_lock.sh) and
# GNU parallel with --sshlogin : (this machine).
#
#   bash tests/campaign/run.sh [BUILD]
#
# Prints cmocka-shaped summary lines ("[  PASSED  ] N test(s).") for
# tests/run-tests.sh. SLURM=0 skips the Slurm case, PARALLEL=0 the GNU
# parallel one; without root or the packages they are skipped with the
# reason, counted as neither.
set -u
build=${1:-build}
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/support/netns_lock.sh
source tests/support/netns_lock.sh
bin=$(pwd)/$build/bluetas
scn=$(pwd)/scenarios
tmp=$(mktemp -d /tmp/bt-campaign.XXXXXX)
slurm_dir=
cleanup() {
	[[ -n $slurm_dir ]] && bash ci/slurm-local.sh stop "$slurm_dir" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
failed_names=()
skipped=0
current=
start_case() {
	current=$1
	echo "[ RUN      ] $current"
}
ok() {
	echo "[       OK ] $current"
	passed=$((passed + 1))
}
bad() {
	echo "  $current: $*"
	echo "[  FAILED  ] $current"
	failed=$((failed + 1))
	failed_names+=("$current")
}
skip() {
	echo "[  SKIPPED ] $current: $*"
	skipped=$((skipped + 1))
}

# A small sweep several cases share: cheap scripts, a dozen seeds.
SWEEP=("$scn/reader_stops.scn" "$scn/handshake_loss.scn" "$scn/backlog_overflow.scn")
SEEDS=1..12

# The per-run lines of `bluetas report --runs`: scenario, seed, result,
# virtual ns, bytes, counters digest (what must agree seed for seed).
runs_of() {
	"$bin" report --runs "$@" | awk '/^scenario +seed/ {on=1; next} on && NF == 6 {print}'
}

# ---- shards partition the sweep ----
start_case shards_partition_the_sweep_and_report_merges_them
(
	cd "$tmp" || exit 1
	# Exit 1 (a run failed) is a result to compare like any other; 2 is not.
	"$bin" run "${SWEEP[@]}" --seeds $SEEDS -j 2 -q --results all.jsonl --pcap fails >/dev/null
	[[ $? -le 1 ]] || exit 1
	for k in 0 1 2 3 4; do
		"$bin" run "${SWEEP[@]}" --seeds $SEEDS -j 2 -q --shard $k/5 --results s$k.jsonl --pcap fails >/dev/null
		[[ $? -le 1 ]] || exit 1
	done
) || bad "a sweep or a shard failed to run"
if [[ $failed -eq 0 ]]; then
	n_all=$(grep -c '"type":"run"' "$tmp/all.jsonl")
	n_shards=$(cat "$tmp"/s?.jsonl | grep -c '"type":"run"')
	pairs_dup=$(cat "$tmp"/s?.jsonl | grep '"type":"run"' | python3 -c '
import json, sys, collections
c = collections.Counter((json.loads(l)["scenario"], json.loads(l)["seed"]) for l in sys.stdin)
print(sum(1 for v in c.values() if v > 1))')
	if [[ $n_all != 36 || $n_shards != 36 || $pairs_dup != 0 ]]; then
		bad "36 runs expected once each: whole sweep $n_all, shards $n_shards, pairs twice $pairs_dup"
	elif ! diff <(runs_of "$tmp/all.jsonl") <(runs_of "$tmp"/s?.jsonl) >"$tmp/diff.txt"; then
		bad "merged shards differ from the whole sweep: $(head -5 "$tmp/diff.txt")"
	elif "$bin" report "$tmp"/s?.jsonl >"$tmp/rep.txt"; [[ $? -gt 1 ]] ||
		[[ $(tail -1 "$tmp/rep.txt") != "$("$bin" report "$tmp/all.jsonl" | tail -1)" ]] ||
		! grep -q "(36 runs)$" "$tmp/rep.txt"; then
		bad "report of the shards: $(tail -3 "$tmp/rep.txt")"
	else
		ok
	fi
fi

start_case report_names_missing_duplicate_and_unfinished_shards
out=$("$bin" report "$tmp/s0.jsonl" "$tmp/s1.jsonl" "$tmp/s1.jsonl" "$tmp/s4.jsonl" 2>&1)
rc=$?
head -2 "$tmp/s2.jsonl" >"$tmp/s2-cut.jsonl"
out2=$("$bin" report "$tmp/s0.jsonl" "$tmp/s1.jsonl" "$tmp/s2-cut.jsonl" "$tmp/s3.jsonl" "$tmp/s4.jsonl" 2>&1)
rc2=$?
"$bin" run "$scn/reader_stops.scn" --seeds 1..2 -q --results "$tmp/other.jsonl" >/dev/null
out3=$("$bin" report "$tmp/s0.jsonl" "$tmp/other.jsonl" 2>&1)
rc3=$?
if [[ $rc != 2 ]] || ! grep -q "shard 1/5 given twice" <<<"$out" || ! grep -q "2 of 5 shards missing: 2, 3" <<<"$out"; then
	bad "duplicate and missing shards: exit $rc: $out"
elif [[ $rc2 != 2 ]] || ! grep -q "did not finish" <<<"$out2"; then
	bad "a cut shard: exit $rc2: $out2"
elif [[ $rc3 != 2 ]] || ! grep -q "from another sweep" <<<"$out3"; then
	bad "a file of another sweep: exit $rc3: $out3"
elif ! { head -1 "$tmp/s0.jsonl"; printf '{"type":"run","scenario":"reader_stops","seed":1,"result":"PA\n'; } \
	>"$tmp/bad.jsonl" || out4=$("$bin" report "$tmp/bad.jsonl" 2>&1) || [[ $? != 2 ]] ||
	! grep -q "bad.jsonl:2: column 60: unterminated string" <<<"$out4"; then
	bad "a broken line must be named with its line and column: $out4"
elif out5=$("$bin" report /etc/hostname 2>&1) || [[ $? != 2 ]] || ! grep -q "hostname:1: column" <<<"$out5"; then
	bad "a file that is not JSON: $out5"
else
	ok
fi

start_case shard_flag_is_validated
o1=$("$bin" run "$scn/reader_stops.scn" --shard 4/4 2>&1); r1=$?
o2=$("$bin" run "$scn/reader_stops.scn" --shard 1 2>&1); r2=$?
o3=$("$bin" run "$scn/reader_stops.scn" --shard 0/0 2>&1); r3=$?
if [[ $r1 != 2 || $r2 != 2 || $r3 != 2 ]] || ! grep -q "numbered 0..3" <<<"$o1" || ! grep -q "expected K/N" <<<"$o2"; then
	bad "exits $r1 $r2 $r3: $o1 / $o2 / $o3"
else
	ok
fi

# ---- JUnit and JSON, read by real parsers ----
start_case junit_and_results_parse_and_carry_failures
"$bin" run "$scn/multiseg_rx_mss536.scn" "$scn/backlog_overflow.scn" --seeds 1..3 -j 2 -q --bug rx-first-segment \
	--pcap "$tmp/fails" --junit "$tmp/j.xml" --results "$tmp/r.jsonl" >/dev/null
rc=$?
check=$(python3 - "$tmp/j.xml" "$tmp/r.jsonl" <<'PY'
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall("./testsuite/testcase")
fails = [c for c in cases if c.find("failure") is not None]
problems = []
if root.tag != "testsuites" or len(cases) != 6:
    problems.append("expected 6 testcases under testsuites, got %d" % len(cases))
if len(fails) != 3 or int(root.get("failures")) != 3:
    problems.append("expected the 3 multiseg runs to fail, got %d" % len(fails))
for c in fails:
    text = c.find("failure").text
    if "data mismatch" not in text or "reproduce:" not in text or "--bug rx-first-segment" not in text:
        problems.append("failure text lacks diagnosis or reproduce line: " + text)
lines = [json.loads(l) for l in open(sys.argv[2])]
runs = [l for l in lines if l["type"] == "run"]
if lines[0]["type"] != "campaign" or lines[-1]["type"] != "end" or len(runs) != 6:
    problems.append("results: header, 6 runs, end expected")
c = runs[0]["counters"]
# One of each struct's counters, those the lists once lacked among them.
for name in ("client.faults.hold_overflow", "chan.*.bytes_read", "chan.*.bytes_written",
             "host.*.doorbells_refreshed", "client.nic.rtos", "wire.to_server.frames", "app.*.messages_done"):
    a, b, f = name.split(".")
    if not any(k.split(".")[0] == a and k.split(".")[-1] == f and (b == "*" or k.split(".")[1] == b) for k in c):
        problems.append("counter missing from the results: " + name)
if sum(1 for r in runs if r["result"] == "FAIL" and "--seed" in r["reproduce"]) != 3:
    problems.append("every failure needs a reproduce line")
print("\n".join(problems))
PY
)
if [[ $rc != 1 ]]; then
	bad "a sweep with failures must exit 1, got $rc"
elif [[ -n $check ]]; then
	bad "$check"
else
	ok
fi

start_case output_that_cannot_be_written_is_an_error
o1=$("$bin" run "$scn/reader_stops.scn" --results /dev/full 2>&1); r1=$?
o2=$("$bin" run "$scn/reader_stops.scn" --junit /dev/full 2>&1); r2=$?
o3=$("$bin" run "$scn/reader_stops.scn" --junit "$tmp/no/such/dir/j.xml" 2>&1); r3=$?
o4=$("$bin" report --runs "$tmp/all.jsonl" 2>&1 >/dev/full); r4=$?
o5=$("$bin" shrink "$scn/mr_overflow.scn" --seed 1 --bug write-without-credits -o /dev/full -q 2>&1); r5=$?
o6=$("$bin" shrink "$scn/mr_overflow.scn" --seed 1 -o "$tmp/no/such/dir/x.scn" 2>&1); r6=$?
if [[ $r1 != 2 || $r2 != 2 || $r3 != 2 || $r4 != 2 || $r5 != 2 || $r6 != 2 ]] || ! grep -q "write error" <<<"$o1$o2" || grep -q "PASS" <<<"$o3"; then
	bad "exits $r1 $r2 $r3 $r4 (all 2 expected): $o1 / $o2 / $o3 / $o4"
else
	ok
fi

# ---- swarm ----
start_case swarm_choices_vary_by_seed_and_reproduce_from_the_line
"$bin" run "$scn/handshake_loss.scn" "$scn/multiseg_rx_mss1448.scn" --seeds 1..6 --swarm -j 2 -q \
	--results "$tmp/sw1.jsonl" >"$tmp/sw1.txt"
rc=$?
"$bin" run "$scn/handshake_loss.scn" "$scn/multiseg_rx_mss1448.scn" --seeds 1..6 --swarm -j 2 -q \
	--results "$tmp/sw2.jsonl" >/dev/null
check=$(python3 - "$tmp/sw1.jsonl" "$tmp/sw2.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1]) if '"type":"run"' in l]
b = [json.loads(l) for l in open(sys.argv[2]) if '"type":"run"' in l]
p = []
if [(r["swarm"], r["counters_digest"]) for r in a] != [(r["swarm"], r["counters_digest"]) for r in b]:
    p.append("the same seeds chose differently or ran differently")
if len(set(r["swarm"] for r in a if r["scenario"] == "handshake_loss")) < 3:
    p.append("six seeds of handshake_loss made fewer than 3 different fault mixes")
if not all("--swarm" in r["reproduce"] for r in a):
    p.append("a reproduce line without --swarm")
print("\n".join(p))
PY
)
# The reproduce line of one run, run again, gives the same counters.
line=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if "\"type\":\"run\"" in l][4]; print(r["reproduce"]); print(r["counters_digest"])' "$tmp/sw1.jsonl")
repro=$(head -1 <<<"$line")
digest=$(tail -1 <<<"$line")
eval "$repro --results $tmp/again.jsonl" >/dev/null 2>&1
again=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "\"type\":\"run\"" in l][0]["counters_digest"])' "$tmp/again.jsonl" 2>/dev/null)
if [[ $rc != 0 ]]; then
	bad "swarm runs must pass (rates only go down): $(tail -5 "$tmp/sw1.txt")"
elif [[ -n $check ]]; then
	bad "$check"
elif [[ $again != "$digest" ]]; then
	bad "the reproduce line '$repro' gave counters $again, the campaign $digest"
else
	ok
fi

# ---- shrink: each negative control to a quarter of its size or less ----
# size = faults x connections x bytes, as `bluetas shrink` prints it; the
# shrunk file must fail the same way when run as its header says.
shrink_case() {
	local script=$1 bug=$2 class=$3
	start_case "shrink_${bug//-/_}_to_a_quarter_failing_the_same_way"
	local out=$tmp/shrunk-$bug.scn
	local line
	line=$("$bin" shrink "$scn/$script" --seed 1 --bug "$bug" -o "$out" -q 2>&1)
	local rc=$?
	local sizes
	sizes=$(sed -n 's/.*bytes \([0-9]*\) x \([0-9]*\) x \([0-9]*\) -> \([0-9]*\) x \([0-9]*\) x \([0-9]*\) after.*/\1 \2 \3 \4 \5 \6/p' <<<"$line")
	if [[ $rc != 0 || -z $sizes ]]; then
		bad "shrink exit $rc: $line"
		return
	fi
	local a b
	read -r f1 c1 b1 f2 c2 b2 <<<"$sizes"
	a=$(python3 -c "print($f1 * $c1 * $b1)")
	b=$(python3 -c "print($f2 * $c2 * $b2)")
	local again
	again=$("$bin" run "$out" --seed 1 --bug "$bug" -q --pcap "$tmp/shrunk-fails" 2>&1)
	local rrc=$?
	if [[ $(python3 -c "print(int($b * 4 <= $a))") != 1 ]]; then
		bad "shrunk to $b of $a: more than a quarter"
	elif [[ $rrc != 1 ]] || ! grep -q "^FAIL .*: $class" <<<"$again"; then
		bad "the shrunk file does not fail with '$class' (exit $rrc): $(grep -m1 '^FAIL' <<<"$again")"
	elif ! grep -q "^# Shrunk by \`bluetas shrink $scn/$script --seed 1 --bug $bug\`" "$out" ||
		! grep -q "^# Run it with: bluetas run $out --seed 1 --bug $bug" "$out"; then
		bad "the header does not name the origin and the command: $(head -4 "$out")"
	else
		echo "  $script --bug $bug: $a -> $b"
		ok
	fi
}
shrink_case multiseg_rx_mss536.scn rx-first-segment "data mismatch"
shrink_case send_deadlock.scn wakeup-no-timeout "deadlock"
shrink_case mr_overflow.scn write-without-credits "out-of-bounds"

start_case shrink_refuses_a_run_that_passes
o=$("$bin" shrink "$scn/reader_stops.scn" --seed 1 -o "$tmp/none.scn" -q 2>&1); r=$?
o2=$("$bin" shrink "$scn/reader_stops.scn" 2>&1); r2=$?
if [[ $r != 1 || -e $tmp/none.scn ]] || ! grep -q "nothing to shrink" <<<"$o"; then
	bad "exit $r: $o"
elif [[ $r2 != 2 ]] || ! grep -q "seed N is required" <<<"$o2"; then
	bad "without --seed: exit $r2: $o2"
else
	ok
fi

# ---- GNU parallel, this machine as the ssh login ":" ----
start_case gnu_parallel_campaign_matches_the_whole_sweep
if [[ ${PARALLEL:-1} != 1 ]]; then
	skip "PARALLEL=0"
elif ! command -v parallel >/dev/null; then
	skip "GNU parallel not installed (ci/install-deps.sh installs it)"
else
	BLUETAS=$bin bash ci/campaign-parallel.sh -n 4 -o "$tmp/par" -S : -j 2 -- "${SWEEP[@]}" --seeds $SEEDS \
		>"$tmp/par.txt" 2>&1
	rc=$?
	if [[ $rc -gt 1 ]]; then
		bad "campaign-parallel.sh exit $rc: $(tail -5 "$tmp/par.txt")"
	elif ! diff <(runs_of "$tmp/all.jsonl") <(runs_of "$tmp"/par/shard-*/results.jsonl) >"$tmp/pdiff.txt"; then
		bad "the parallel campaign differs from the whole sweep: $(head -5 "$tmp/pdiff.txt")"
	elif [[ ! -s $tmp/par/shard-3/junit.xml ]]; then
		bad "shard 3 left no junit.xml in its directory"
	else
		ok
	fi
fi

# ---- Slurm: a job array on a single-node cluster started for this test ----
start_case slurm_job_array_campaign_matches_the_whole_sweep
slurm_case() {
	slurm_dir=$tmp/slurm
	if ! bash ci/slurm-local.sh start "$slurm_dir" >"$tmp/slurm-start.txt" 2>&1; then
		bad "the local cluster did not start: $(tail -5 "$tmp/slurm-start.txt")"
		return
	fi
	export SLURM_CONF=$slurm_dir/slurm.conf
	# A swarm sweep, so the cluster runs what CI runs.
	local job
	job=$(BLUETAS=$bin sbatch --parsable --array=0-3 --output="$tmp/slurm-%a.out" --export=ALL \
		ci/campaign-slurm.sbatch "$tmp/slurm-out" "${SWEEP[@]}" -- --seeds $SEEDS --swarm 2>"$tmp/sbatch.err")
	if [[ -z $job ]]; then
		bad "sbatch: $(cat "$tmp/sbatch.err")"
		return
	fi
	local t
	for t in $(seq 1 600); do
		[[ -z $(squeue -h -j "$job" 2>/dev/null) ]] && break
		sleep 0.5
	done
	if [[ -n $(squeue -h -j "$job" 2>/dev/null) ]]; then
		scancel "$job"
		bad "the job array did not finish in 300 s"
		return
	fi
	"$bin" run "${SWEEP[@]}" --seeds $SEEDS --swarm -j 2 -q --results "$tmp/swarm-all.jsonl" >/dev/null
	"$bin" report "$tmp"/slurm-out/shard-*/results.jsonl >"$tmp/slurm-report.txt" 2>&1
	if [[ $? -gt 1 ]]; then
		bad "report of the Slurm shards: $(tail -8 "$tmp/slurm-report.txt")"
	elif ! grep -q "4 shards, 4 files" "$tmp/slurm-report.txt"; then
		bad "expected 4 shards: $(head -1 "$tmp/slurm-report.txt")"
	elif ! diff <(runs_of "$tmp/swarm-all.jsonl") <(runs_of "$tmp"/slurm-out/shard-*/results.jsonl) >"$tmp/sdiff.txt"; then
		bad "the Slurm campaign differs from the same sweep on one machine: $(head -5 "$tmp/sdiff.txt")"
	else
		ok
	fi
	unset SLURM_CONF
}
if [[ ${SLURM:-1} != 1 ]]; then
	skip "SLURM=0"
elif [[ $(id -u) != 0 ]]; then
	skip "needs root (slurmd runs jobs as their user)"
elif ! command -v sbatch >/dev/null || [[ ! -x /usr/sbin/slurmctld ]] || [[ ! -x /usr/sbin/munged ]]; then
	skip "slurm-wlm and munge are not installed (ci/install-deps.sh installs them)"
else
	# The cluster is a set of system daemons: one at a time on a shared machine.
	netns_lock_take
	slurm_case
	bash ci/slurm-local.sh stop "$slurm_dir" >/dev/null 2>&1
	slurm_dir=
fi

echo "[==========] $((passed + failed)) test(s) run."
echo "[  PASSED  ] $passed test(s)."
if [[ $failed -gt 0 ]]; then
	echo "[  FAILED  ] $failed test(s), listed below:"
	for n in "${failed_names[@]}"; do echo "[  FAILED  ] $n"; done
	exit 1
fi
exit 0
