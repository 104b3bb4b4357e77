#!/usr/bin/env bash
# limits_ai.sh again with its counters in a Redis the test starts (counters: redis): token
# windows, a day quota across a clean stop and a crash (kept in Redis, not data_dir), a
# budget and its soft threshold, and fail-open / fail-closed with Redis stopped.
COUNTERS=redis exec bash "$(dirname "$0")/limits_ai.sh"
