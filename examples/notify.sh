#!/bin/sh
# A gpumem watch --exec hook: one line per event, from the GPUMEM_* variables
# (the segment's text arrives only as values, never as shell code).
case "$GPUMEM_EVENT" in
level) echo "notify: pid $GPUMEM_PID $GPUMEM_DEVICE is $GPUMEM_LEVEL ($GPUMEM_PERCENT %, was $GPUMEM_PREVIOUS_LEVEL)" ;;
oom) echo "notify: pid $GPUMEM_PID ran out of memory on $GPUMEM_DEVICE; report $GPUMEM_REPORT" ;;
*) echo "notify: pid $GPUMEM_PID $GPUMEM_EVENT" ;;
esac
