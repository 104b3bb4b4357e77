/* config_doctor.h: `portico doctor -c FILE`: the doctor run on everything a configuration
 * file points at, one section per object: each listener, each service target and each AI
 * provider, checked for reachability, the protocol spoken and its TLS (host:port, connect
 * mode), or over HTTP at its health path for a target whose service runs health checks. The objects are checked
 * in parallel (a few at a time) with the usual per-probe timeout, so a whole file takes
 * seconds. The exit status is the worst of the objects' (0 healthy, 1 warning, 2 failure). */
#ifndef PT_GATEWAY_CONFIG_DOCTOR_H
#define PT_GATEWAY_CONFIG_DOCTOR_H

/* argv excludes "portico doctor"; it holds -c FILE and optionally --json, --timeout MS. */
int pt_config_doctor_main(int argc, char **argv);

/* Whether argv asks for a configuration (-c or --config). */
int pt_config_doctor_wanted(int argc, char **argv);

#endif
