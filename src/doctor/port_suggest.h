/* port_suggest.h: typo suggestions for a port that cannot be one (check_port.c). */
#ifndef PT_DOCTOR_PORT_SUGGEST_H
#define PT_DOCTOR_PORT_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pt_dr_suggestion {
    unsigned port;
    int distance;     /* digit edits: delete, insert, replace, transpose */
    bool listening;
} pt_dr_suggestion;

/* Optimal-string-alignment distance between two short strings (99 when either exceeds 32). */
int pt__dr_osa_distance(const char *a, const char *b);
/* Valid ports one or two edits from the digits typed, best first: listening ports (closest
 * first), then one-edit common development ports, then other one-edit ports, then two-edit
 * common ports. Returns how many were written to out (at most max). */
size_t pt__dr_port_suggest(const char *typed, const unsigned *listening, size_t nlistening,
                           pt_dr_suggestion *out, size_t max);

#endif
