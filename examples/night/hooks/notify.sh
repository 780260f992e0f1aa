#!/bin/sh
# A stand-in for paging: the failure reason is in SANSHIFT_REASON.
echo "page: $SANSHIFT_VM on $SANSHIFT_HOST failed in run $SANSHIFT_RUN_ID: $SANSHIFT_REASON"
