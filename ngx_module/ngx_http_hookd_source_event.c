/*
 * What a verified webhook becomes (docs/sources.md): its payload, the
 * body's JSON text as it came, never re-encoded (a form's payload field, or
 * its fields); its type and idempotency key from where the provider puts
 * them; Slack's url_verification answered instead of stored.
 */

#include <jansson.h>

#include "ngx_http_hookd_source.h"
#include "hookd_form.h"


/* a header's value, as a NUL-terminated copy in the pool, or NULL */
static char *
ngx_http_hookd_source_header(ngx_http_request_t *r, hookd_headers_t *hs,
    const char *name)
{
    char        *copy;
    size_t       len;
    const char  *v;

    if (name[0] == '\0' || hookd_header_find(hs, name, &v, &len) != 1) {
        return NULL;
    }

    copy = ngx_pnalloc(r->pool, len + 1);
    if (copy != NULL) {
        ngx_memcpy(copy, v, len);
        copy[len] = '\0';
    }

    return copy;
}


/* a string (or a number, for ids) at a JSON pointer such as /data/type */
static const char *
ngx_http_hookd_source_field(ngx_http_request_t *r, json_t *v,
    const char *pointer)
{
    u_char      *p;
    char         key[NGX_HTTP_HOOKD_OPTION_LEN];
    size_t       n;
    const char  *seg, *next;

    for (seg = pointer; v && *seg == '/'; seg = next) {
        next = ngx_strchr(seg + 1, '/');
        n = next ? (size_t) (next - seg - 1) : ngx_strlen(seg + 1);
        if (next == NULL) {
            next = seg + 1 + n;
        }

        if (n >= sizeof(key)) {
            return NULL;
        }

        ngx_memcpy(key, seg + 1, n);
        key[n] = '\0';
        v = json_object_get(v, key);
    }

    if (json_is_string(v)) {
        return json_string_value(v);
    }

    if (json_is_integer(v)) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 1);
        if (p != NULL) {
            *ngx_sprintf(p, "%L", (int64_t) json_integer_value(v)) = '\0';
        }
        return (const char *) p;
    }

    return NULL;
}


/* a provider's type in the type alphabet: others become _, cut to 128 */
static ngx_int_t
ngx_http_hookd_source_type(ngx_http_request_t *r, const char *a,
    const char *b, ngx_str_t *type)
{
    u_char  *p;
    size_t   i, la, lb;

    if (a == NULL || a[0] == '\0') {
        a = "unknown";
        b = NULL;
    }

    la = ngx_strlen(a);
    lb = b && b[0] ? ngx_strlen(b) + 1 : 0;

    p = ngx_pnalloc(r->pool, la + lb);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, a, la);
    if (lb) {
        p[la] = '.';
        ngx_memcpy(p + la + 1, b, lb - 1);
    }

    type->data = p;
    type->len = ngx_min(la + lb, 128);

    for (i = 0; i < type->len; i++) {
        if (!(ngx_http_hookd_alnum(p[i]) || p[i] == '_' || p[i] == '.' || p[i] == ':'
              || p[i] == '-'))
        {
            p[i] = '_';
        }
    }

    return NGX_OK;
}


/* the labels of classification, from the payload as it will be stored */
static ngx_int_t
ngx_http_hookd_source_classify(ngx_http_request_t *r,
    const ngx_http_hookd_source_t *s, ngx_str_t *type, json_t *doc,
    ngx_uint_t wrap)
{
    json_t                     *payload;
    ngx_http_hookd_ctx_t       *ctx;
    ngx_http_hookd_loc_conf_t  *hlcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hookd_module);
    if (!hlcf->classify) {
        return NGX_OK;
    }

    payload = wrap ? json_pack("{s:O}", "data", doc) : json_incref(doc);
    if (payload == NULL) {
        return NGX_ERROR;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    hookd_classify_event(hookd_provider_name(s->verify.provider),
                   (const char *) type->data, type->len, payload, &ctx->cls);
    ctx->classified = 1;
    json_decref(payload);

    return NGX_OK;
}


ngx_int_t
ngx_http_hookd_source_event(ngx_http_request_t *r,
    const ngx_http_hookd_source_t *s, hookd_headers_t *hs, ngx_str_t *body)
{
    u_char                *p;
    char                  *dumped, *ct;
    json_t                *doc, *form, *inner;
    ngx_str_t              text, type, event;
    ngx_int_t              rc;
    ngx_uint_t             is_form, wrap;
    json_error_t           err;
    const char            *a, *b, *id;
    hookd_provider_e       provider;
    ngx_http_hookd_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    provider = s->verify.provider;

    ct = ngx_http_hookd_source_header(r, hs, "content-type");
    is_form = s->form
              || ((provider == HOOKD_PROVIDER_GITHUB
                   || provider == HOOKD_PROVIDER_SLACK)
                  && ct && ngx_strncasecmp((u_char *) ct, (u_char *)
                         "application/x-www-form-urlencoded", 33) == 0);

    text = *body;
    form = NULL;
    dumped = NULL;

    if (is_form) {
        form = hookd_form_object((const char *) body->data, body->len);
        if (form == NULL) {
            return ngx_http_hookd_send_hint(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_form", "the form body is not UTF-8 "
                       "name=value pairs, each name once",
                       "percent-encode names and values as UTF-8 and send "
                       "each name once; or change the source's content to "
                       "JSON if the provider sends JSON");
        }

        inner = json_object_get(form, "payload");

        if (json_is_string(inner)) {
            text.data = (u_char *) json_string_value(inner);
            text.len = json_string_length(inner);

        } else {
            dumped = json_dumps(form, JSON_COMPACT);
            if (dumped == NULL) {
                json_decref(form);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            text.data = (u_char *) dumped;
            text.len = ngx_strlen(dumped);
        }
    }

    doc = NULL;

    if (hookd_json_depth((const char *) text.data, text.len,
                         HOOKD_MAX_JSON_DEPTH) < 0
        || hookd_json_unstorable_number((const char *) text.data, text.len)
           >= 0
        || (doc = json_loadb((const char *) text.data, text.len, 0, &err))
           == NULL)
    {
        rc = ngx_http_hookd_send_hint(r, NGX_HTTP_BAD_REQUEST,
                 "invalid_json", "the webhook's body is not JSON this store "
                 "takes (depth at most 64, numbers PostgreSQL can store)",
                 doc == NULL && hookd_json_depth((const char *) text.data,
                                   text.len, HOOKD_MAX_JSON_DEPTH) >= 0
                 && hookd_json_unstorable_number((const char *) text.data,
                                                 text.len) < 0
                 ? "the body is not JSON: if the provider sends a form, "
                   "create the source with \"content\": \"form\"; otherwise "
                   "check that the provider sends application/json"
                 : "the body nests deeper than 64 levels or has a number "
                   "with more digits than PostgreSQL stores; ask the "
                   "provider for a leaner payload");
        goto done;
    }

    /* Slack checks a new Events API URL with a challenge, not stored */
    if (provider == HOOKD_PROVIDER_SLACK
        && ngx_strcmp(json_string_value(json_object_get(doc, "type"))
                      ? json_string_value(json_object_get(doc, "type")) : "",
                      "url_verification") == 0)
    {
        char    *reply;
        json_t  *answer;

        answer = json_pack("{s:O?}", "challenge",
                           json_object_get(doc, "challenge"));
        reply = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
        json_decref(answer);

        if (reply == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        p = ngx_pnalloc(r->pool, ngx_strlen(reply));
        if (p == NULL) {
            free(reply);
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        ngx_memcpy(p, reply, ngx_strlen(reply));
        rc = ngx_http_hookd_send_json(r, NGX_HTTP_OK, p, ngx_strlen(reply));
        free(reply);
        goto done;
    }

    a = NULL;
    b = NULL;
    id = NULL;

    switch (provider) {

    case HOOKD_PROVIDER_STRIPE:
    case HOOKD_PROVIDER_STANDARD:
        a = ngx_http_hookd_source_field(r, doc, "/type");
        id = provider == HOOKD_PROVIDER_STRIPE
             ? ngx_http_hookd_source_field(r, doc, "/id")
             : ngx_http_hookd_source_header(r, hs, "webhook-id");
        break;

    case HOOKD_PROVIDER_GITHUB:
        a = ngx_http_hookd_source_header(r, hs, "x-github-event");
        b = ngx_http_hookd_source_field(r, doc, "/action");
        id = ngx_http_hookd_source_header(r, hs, "x-github-delivery");
        break;

    case HOOKD_PROVIDER_SHOPIFY:
        a = ngx_http_hookd_source_header(r, hs, "x-shopify-topic");
        id = ngx_http_hookd_source_header(r, hs, "x-shopify-webhook-id");
        if (a) {
            for (p = (u_char *) a; *p; p++) {
                *p = *p == '/' ? '.' : *p;
            }
        }
        break;

    case HOOKD_PROVIDER_SLACK:
        a = "slack";
        b = ngx_http_hookd_source_field(r, doc, "/event/type");
        if (b == NULL) {
            b = ngx_http_hookd_source_field(r, doc, "/type");
        }
        if (b == NULL && json_object_get(doc, "command")) {
            b = "slash_command";
        }
        id = ngx_http_hookd_source_field(r, doc, "/event_id");
        break;

    default:
        a = s->event_type[0] ? s->event_type
            : s->type_header[0]
            ? ngx_http_hookd_source_header(r, hs, s->type_header)
            : ngx_http_hookd_source_field(r, doc, s->type_field);
        id = s->id_header[0]
             ? ngx_http_hookd_source_header(r, hs, s->id_header)
             : s->id_field[0]
             ? ngx_http_hookd_source_field(r, doc, s->id_field) : NULL;
    }

    if (ngx_http_hookd_source_type(r, a, b, &type) != NGX_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    /* a key the store cannot take dedupes nothing, and is dropped */
    if (id && hookd_valid_idempotency_key(id, ngx_strlen(id))) {
        ctx->idempotency_key.data = (u_char *) id;
        ctx->idempotency_key.len = ngx_strlen(id);
    }

    wrap = !json_is_object(doc);

    if (ngx_http_hookd_source_classify(r, s, &type, doc, wrap) != NGX_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    /* {"event_type":"<type>","payload":<text>} */
    event.len = sizeof("{\"event_type\":\"\",\"payload\":}") - 1 + type.len
                + text.len + (wrap ? sizeof("{\"data\":}") - 1 : 0);
    event.data = ngx_pnalloc(r->pool, event.len);
    if (event.data == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    p = ngx_sprintf(event.data, "{\"event_type\":\"%V\",\"payload\":%s",
                    &type, wrap ? "{\"data\":" : "");
    p = ngx_cpymem(p, text.data, text.len);
    p = ngx_cpymem(p, wrap ? "}}" : "}", wrap ? 2 : 1);
    event.len = p - event.data;

    rc = ngx_http_hookd_ingest_event(r, &event);

done:

    json_decref(doc);
    json_decref(form);
    free(dumped);

    return rc;
}
