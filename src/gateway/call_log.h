/* call_log.h: the gateway's side of the call log (logs/calllog.h): opened at start from
 * the `call_log:` section, one record per finished request built from what the handlers
 * left in pt_req_info (the caller from auth, the AI figures from the AI route), and its
 * /metrics families. */
#ifndef PT_GATEWAY_CALL_LOG_H
#define PT_GATEWAY_CALL_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"
#include "http/server.h"

/* The call log's file: data_dir/calls.db. */
void pt_call_log_path(const pt_config *cfg, char *out, size_t cap);

/* Opens the call log when cfg enables it and registers its metrics. A file that cannot
 * be opened is logged and leaves calls unlogged: traffic does not depend on it. Call once,
 * at start (a reload does not change the call log). */
void pt_call_log_start(const pt_config *cfg);

/* Queues the record of one finished request (a no-op when the log is off). Called from
 * the server's done callback on a worker thread. */
void pt_call_log_record(pt_conn *c, const pt_request *req, const pt_req_info *info, int status, uint64_t bytes_in,
                        uint64_t bytes_out, uint64_t total_us);

/* Commits what is queued and closes the log. */
void pt_call_log_stop(void);

#endif
