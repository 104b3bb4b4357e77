#!/usr/bin/env bash
# limits_policies.sh again with its counters in a Redis the test starts (counters: redis):
# the same rate, concurrency and group_by policies must behave alike on either backend.
COUNTERS=redis exec bash "$(dirname "$0")/limits_policies.sh"
