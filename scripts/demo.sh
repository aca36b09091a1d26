#!/usr/bin/env bash
# The ezctl demo on a fresh Debian machine: set up, bring up the default two-zones cluster
# (per eZone: MariaDB, Redis, DRC replicators, cache invalidator, DAL, order service, SOA Proxy; plus
# GZS, APIRouter and the link server: every path between eZones is a named link with a 30 ms round
# trip, as between Beijing and Shanghai), show what runs where, run orders through it and check them.
#
#   ./scripts/demo.sh                 # default topology, state in ./.ezctl
#   EZCTL_TOPOLOGY=fixtures/topologies/three-zones.yaml ./scripts/demo.sh
#   DEMO_ORDERS=2000 ./scripts/demo.sh
#
# Stop it with `node bin/run.js down` (add --purge to delete the data).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/setup.sh
ezctl() { node bin/run.js "$@"; }

echo
echo "demo: ezctl up"
ezctl up
echo
echo "demo: the links between the sites (30 ms round trip between eZones, 2 ms from APIRouter's site)"
ezctl links list
echo
echo "demo: where two routing tags go (Beijing, Shanghai)"
ezctl route --tag 'geo=39.9042,116.4074'
ezctl route --tag 'geo=31.2304,121.4737'
echo
echo "demo: ezctl workload — ${DEMO_ORDERS:-300} orders all over the country through APIRouter, then the checks"
ezctl workload --orders "${DEMO_ORDERS:-300}" --concurrency 16
echo
echo "demo: ezctl dal status — every order above went through its eZone's DAL"
ezctl dal status
echo
echo "demo: ezctl drc status"
ezctl drc status
echo
echo "demo: the cluster keeps running; try: ezctl status, ezctl gzs table, ezctl drc status --watch;"
echo "      stop it with: node bin/run.js down   (--purge also deletes its data)"
