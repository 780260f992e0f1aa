#!/bin/sh
# A stand-in for the load balancer's CLI: `lb.sh drain VM` / `lb.sh enable VM`. sanshift runs it
# as an argv with SANSHIFT_VM, SANSHIFT_HOST, SANSHIFT_PHASE, SANSHIFT_WINDOW and SANSHIFT_RUN_ID
# in its environment; what it prints goes to the journal.
echo "lb: $1 $2 (run $SANSHIFT_RUN_ID, $SANSHIFT_PHASE before/after $SANSHIFT_WINDOW)"
