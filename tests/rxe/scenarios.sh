#!/usr/bin/env bash
# The BlueTAS failure scenarios in real time over the RDMA verbs channel
# (every application's host<->NIC channel an RC connection between the
# topology's two RDMA addresses), and their negative controls, which must
# fail with the matching diagnosis:
#
#   tests/rxe/scenarios.sh pass                 the three scenarios pass
#   tests/rxe/scenarios.sh negative BUG TEXT    with --bug BUG the matching
#                                               scenario fails, saying TEXT
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
bin=${BUILD:-build}/bluetas
seeds=${RXE_SCENARIO_SEEDS:-1..2}
artifacts=$(mktemp -d /tmp/bt-rxe-scn.XXXXXX)
trap 'rm -rf "$artifacts"' EXIT

case ${1:-} in
pass)
	"$bin" run scenarios/multiseg_rx_mss1448.scn scenarios/send_deadlock.scn scenarios/mr_overflow.scn \
		--backend rxe --seeds "$seeds" --quiet --pcap "$artifacts"
	;;
negative)
	bug=$2 text=$3
	case $bug in
	rx-first-segment) scn=scenarios/multiseg_rx_mss1448.scn ;;
	wakeup-no-timeout) scn=scenarios/send_deadlock.scn ;;
	write-without-credits) scn=scenarios/mr_overflow.scn ;;
	*) echo "scenarios.sh: unknown bug '$bug'" >&2; exit 2 ;;
	esac
	out=$("$bin" run "$scn" --backend rxe --seed 1 --bug "$bug" --pcap "$artifacts" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^FAIL|passed'
	if [[ $rc -ne 1 ]]; then
		echo "negative control $bug: expected the scenario to fail (exit 1), got exit $rc" >&2
		exit 1
	fi
	if ! grep -q "^FAIL.*$text" <<<"$out"; then
		echo "negative control $bug: the failure does not say '$text'" >&2
		exit 1
	fi
	;;
*)
	echo "usage: tests/rxe/scenarios.sh pass | negative BUG TEXT" >&2
	exit 2
	;;
esac
