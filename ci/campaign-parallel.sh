#!/usr/bin/env bash
# ci/campaign-parallel.sh: a `bluetas run` campaign over a set of ssh hosts
# with GNU parallel (docs/campaigns.md): N shards, each one `bluetas run
# --shard K/N` on whichever host is free, the shard's directory sent back.
#
#   ci/campaign-parallel.sh -n N -o OUT [-S SSHLOGINS] [-j JOBS] -- SCENARIO... [RUN-OPTIONS...]
#
#   -n N          shards (default 8)
#   -o OUT        where shard K's results land: OUT/shard-K/{results.jsonl,
#                 junit.xml,log.txt,failures/}; then `bluetas report OUT/shard-*/results.jsonl`
#   -S SSHLOGINS  GNU parallel's --sshlogin: "host1,host2" or "4/host1,:"
#                 (":" is this machine; default ":")
#   -j JOBS       shards at once per host (default: its number of CPUs)
#
# Every host needs bluetas and the scenario files at the same paths as
# here (a shared checkout, or rsync it first); OUT is written relative to
# a per-host work directory and returned with --return. BLUETAS names the
# binary (default: bluetas on PATH). Exit status: that of `bluetas report`.
set -u
n=8
out=
logins=:
jobs=
while getopts "n:o:S:j:h" opt; do
	case $opt in
	n) n=$OPTARG ;;
	o) out=$OPTARG ;;
	S) logins=$OPTARG ;;
	j) jobs=$OPTARG ;;
	h)
		sed -n '2,22p' "$0"
		exit 0
		;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ ${1:-} == -- ]] && shift
if [[ -z $out || $# -eq 0 || ! $n =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: ci/campaign-parallel.sh -n N -o OUT [-S SSHLOGINS] [-j JOBS] -- SCENARIO... [RUN-OPTIONS...]" >&2
	exit 2
fi
if ! command -v parallel >/dev/null; then
	echo "campaign-parallel: GNU parallel not found (apt-get install parallel)" >&2
	exit 2
fi
bluetas=${BLUETAS:-bluetas}
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
# Shard K's command, quoted for the remote shell by parallel (-q).
work=bluetas-campaign.$$
jobs_opt=()
[[ -n $jobs ]] && jobs_opt=(--jobs "$jobs")
# Remote hosts send their shard directories back; ":" alone needs no transfer.
remote_opt=()
IFS=, read -ra login_list <<<"$logins"
for l in "${login_list[@]}"; do
	[[ ${l#*/} != : ]] && remote_opt=(--return "shard-{}" --cleanup)
done
seq 0 $((n - 1)) | parallel --will-cite "${jobs_opt[@]}" --sshlogin "$logins" --workdir "$work" \
	"${remote_opt[@]}" --halt never \
	"mkdir -p shard-{} && $(printf '%q ' "$bluetas") run $(printf '%q ' "$@") --shard {}/$n --quiet \
		--results shard-{}/results.jsonl --junit shard-{}/junit.xml --pcap shard-{}/failures \
		>shard-{}/log.txt 2>&1; true"
# --return brings shard-K/ into this directory's $work (local: already there).
if [[ -d $work ]]; then
	cp -r "$work"/shard-* "$out"/ 2>/dev/null
	rm -rf "$work"
fi
"$bluetas" report "$out"/shard-*/results.jsonl
