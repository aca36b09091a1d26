#!/usr/bin/env bash
# The ezctl demo on a fresh Debian machine: set up, then bring up the default two-zones cluster
# (one MariaDB and one Redis per eZone) and show what runs where. Later parts add GZS, the
# routers, DRC, DAL and a workload to this script.
#
#   ./scripts/demo.sh                 # default topology, state in ./.ezctl
#   EZCTL_TOPOLOGY=fixtures/topologies/three-zones.yaml ./scripts/demo.sh
#
# Stop it with `node bin/run.js down` (add --purge to delete the data).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/setup.sh
echo
echo "demo: ezctl up"
node bin/run.js up
echo
echo "demo: ezctl status"
node bin/run.js status
echo
echo "demo: the cluster keeps running; stop it with: node bin/run.js down   (--purge also deletes its data)"
