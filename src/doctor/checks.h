/* checks.h: every doctor check, in one place. doctor.c runs them in the order of its table;
 * each is defined in its own check_<id>.c. */
#ifndef PT_DOCTOR_CHECKS_H
#define PT_DOCTOR_CHECKS_H

#include "doctor/check.h"

/* Network: is the target reachable, and if not, why. */
extern const pt_dr_check pt_dr_check_port;
extern const pt_dr_check pt_dr_check_resolve;
extern const pt_dr_check pt_dr_check_proxy_env;
extern const pt_dr_check pt_dr_check_listeners;
extern const pt_dr_check pt_dr_check_bind;
extern const pt_dr_check pt_dr_check_connect;
extern const pt_dr_check pt_dr_check_firewall;

/* Protocol: what answers once connected. */
extern const pt_dr_check pt_dr_check_protocol;
extern const pt_dr_check pt_dr_check_tls;
extern const pt_dr_check pt_dr_check_unresponsive;
extern const pt_dr_check pt_dr_check_http;
extern const pt_dr_check pt_dr_check_mcp;

/* Server start (--listen) and the machine around everything. */
extern const pt_dr_check pt_dr_check_listen;
extern const pt_dr_check pt_dr_check_environment;

#endif
