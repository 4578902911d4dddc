/*
 * What ngx_http_hookd_source.c (the location, its cache, the verification)
 * and ngx_http_hookd_source_event.c (what a verified webhook becomes)
 * share; private to those two files.
 */

#ifndef NGX_HTTP_HOOKD_SOURCE_H
#define NGX_HTTP_HOOKD_SOURCE_H

#include "ngx_http_hookd_module.h"
#include "hookd_verify.h"


#define NGX_HTTP_HOOKD_SOURCE_SETS    256
#define NGX_HTTP_HOOKD_SOURCE_WAYS    2
#define NGX_HTTP_HOOKD_SOURCE_ID_MAX  64
#define NGX_HTTP_HOOKD_SECRET_LEN     513
#define NGX_HTTP_HOOKD_OPTION_LEN     129

/* ASCII letters and digits, whatever the locale */
#define ngx_http_hookd_alnum(c)                                              \
    (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'z')                \
     || ((c) >= 'A' && (c) <= 'Z'))


typedef struct {
    u_char              hash[HOOKD_KEY_HASH_LEN];   /* of the source id */
    unsigned            used:1;
    unsigned            known:1;
    unsigned            form:1;                     /* options.content */
    ngx_msec_t          expires;
    u_char              app_id[NGX_HTTP_HOOKD_SOURCE_ID_MAX + 1];
    hookd_verify_conf_t verify;                     /* points into below */
    char                secrets[HOOKD_VERIFY_SECRETS]
                               [NGX_HTTP_HOOKD_SECRET_LEN];
    /* hmac, basic, bearer: header, prefix, and where type and id are */
    char                header[NGX_HTTP_HOOKD_OPTION_LEN];
    char                prefix[NGX_HTTP_HOOKD_OPTION_LEN];
    char                type_header[NGX_HTTP_HOOKD_OPTION_LEN];
    char                type_field[NGX_HTTP_HOOKD_OPTION_LEN];
    char                event_type[NGX_HTTP_HOOKD_OPTION_LEN];
    char                id_header[NGX_HTTP_HOOKD_OPTION_LEN];
    char                id_field[NGX_HTTP_HOOKD_OPTION_LEN];
} ngx_http_hookd_source_t;


/*
 * The verified webhook as an event of the source's application. NGX_DONE
 * once it joined a batch; otherwise what to finalize with (an answer sent,
 * as Slack's challenge, or an error).
 */
ngx_int_t ngx_http_hookd_source_event(ngx_http_request_t *r,
    const ngx_http_hookd_source_t *s, hookd_headers_t *hs, ngx_str_t *body);

#endif /* NGX_HTTP_HOOKD_SOURCE_H */
