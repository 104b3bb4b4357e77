/* webhook.c: a JSON POST off the request path (webhook.h). */
#include "limits/webhook.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "http/post.h"

typedef struct post {
    pt_post_url to;
    char *json;
    unsigned timeout_ms;
} post;

static void post_free(post *p)
{
    free(p->json);
    free(p);
}

/* Logged by its scheme, host and port only: a webhook's path often is its secret. */
static void *run(void *arg)
{
    post *p = arg;
    char why[256], where[300];
    snprintf(where, sizeof where, "%s://%s:%u", p->to.tls ? "https" : "http", p->to.host, p->to.port);
    int status = pt_http_post(&p->to, NULL, "application/json", p->json, strlen(p->json), p->timeout_ms, why, sizeof why);
    if (status >= 200 && status < 300) pt_log_info("budget webhook %s answered %d", where, status);
    else if (status > 0) pt_log_warn("budget webhook %s answered %d", where, status);
    else pt_log_warn("budget webhook %s was not reached within %u ms: %s", where, p->timeout_ms, why);
    post_free(p);
    return NULL;
}

int pt_limits_webhook_post(const char *url, const char *json, unsigned timeout_ms)
{
    post *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->timeout_ms = timeout_ms ? timeout_ms : 5000;
    if (pt_post_url_parse(url, &p->to) != 0 || !(p->json = strdup(json))) {
        post_free(p);
        return -1;
    }
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, run, p);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        post_free(p);
        return -1;
    }
    return 0;
}
